"""tf.distributions: densities, distribution functions and statistics against scipy.stats,
sample shapes, seeds and moments, gradients, KL divergences, argument checks and a small
VAE trained through a reparameterized Normal."""

import numpy as np
import pytest

import flowgrad as tf

stats = pytest.importorskip("scipy.stats")
special = pytest.importorskip("scipy.special")
tfd = tf.distributions

F64 = np.float64


def _run(*fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(list(fetches), feed)


# ----- values against scipy.stats, over broadcast parameter batches -------------------------------
LOC = np.array([[-1.0], [0.5]])            # (2, 1)
SCALE = np.array([0.7, 1.0, 2.5])           # (3,)  -> batch (2, 3)
POS_A = np.array([[0.6], [2.0]])
POS_B = np.array([0.8, 1.5, 4.0])

# name -> (build, scipy frozen, x values (broadcast to the batch), methods)
UNIVARIATE = {
    "Normal": (lambda: tfd.Normal(loc=LOC, scale=SCALE), stats.norm(LOC, SCALE),
               np.array([-1.3, 0.2, 2.0]),
               ["log_prob", "prob", "cdf", "log_cdf", "survival_function",
                "log_survival_function", "entropy", "mean", "variance", "stddev", "mode",
                "quantile"]),
    "Uniform": (lambda: tfd.Uniform(low=LOC, high=LOC + SCALE), stats.uniform(LOC, SCALE),
                np.array([[-0.9, -0.5, 0.9], [0.6, 1.2, 2.9]]),
                ["log_prob", "prob", "cdf", "entropy", "mean", "variance", "stddev"]),
    "Laplace": (lambda: tfd.Laplace(loc=LOC, scale=SCALE), stats.laplace(LOC, SCALE),
                np.array([-1.3, 0.2, 2.0]),
                ["log_prob", "prob", "cdf", "log_cdf", "survival_function",
                 "log_survival_function", "entropy", "mean", "variance", "stddev", "mode"]),
    "Gamma": (lambda: tfd.Gamma(concentration=POS_A, rate=POS_B),
              stats.gamma(POS_A, scale=1.0 / POS_B), np.array([0.3, 1.1, 2.7]),
              ["log_prob", "prob", "cdf", "log_cdf", "survival_function", "entropy", "mean",
               "variance", "stddev"]),
    "Exponential": (lambda: tfd.Exponential(rate=POS_A + POS_B),
                    stats.expon(scale=1.0 / (POS_A + POS_B)),
                    np.array([[0.3, 1.1, 2.7], [0.05, 0.5, 4.0]]),
                    ["log_prob", "prob", "cdf", "log_survival_function", "survival_function",
                     "entropy", "mean", "variance", "stddev"]),
    "Beta": (lambda: tfd.Beta(concentration1=POS_A, concentration0=POS_B),
             stats.beta(POS_A, POS_B), np.array([0.15, 0.5, 0.93]),
             ["log_prob", "prob", "cdf", "log_cdf", "survival_function", "entropy", "mean",
              "variance", "stddev"]),
    "StudentT": (lambda: tfd.StudentT(df=np.array([[3.0], [7.5]]), loc=0.5 * POS_B,
                                      scale=SCALE), stats.t(np.array([[3.0], [7.5]]),
                                                            0.5 * POS_B, SCALE),
                 np.array([-1.3, 0.2, 2.0]),
                 ["log_prob", "prob", "cdf", "survival_function", "entropy", "mean",
                  "variance", "stddev"]),
}
_SCIPY_NAME = {"log_prob": "logpdf", "prob": "pdf", "cdf": "cdf", "log_cdf": "logcdf",
               "survival_function": "sf", "log_survival_function": "logsf", "entropy": "entropy",
               "quantile": "ppf",
               "mean": "mean", "variance": "var", "stddev": "std", "mode": "median"}


@pytest.mark.parametrize("name", sorted(UNIVARIATE))
def test_univariate_against_scipy(name):
    build, ref, x, methods = UNIVARIATE[name]
    dist = build()
    assert dist.batch_shape.as_list() == [2, 3] and dist.event_shape.as_list() == []
    assert dist.dtype == tf.float64
    pointwise = ("log_prob", "prob", "cdf", "log_cdf", "survival_function",
                 "log_survival_function")

    def args_of(m):
        return (special.expit(x),) if m == "quantile" else (x,) if m in pointwise else ()

    fetches = [getattr(dist, m)(*args_of(m)) for m in methods]
    for m, t, got in zip(methods, fetches, _run(*fetches)):
        args = args_of(m)
        want = np.broadcast_to(getattr(ref, _SCIPY_NAME[m])(*args), (2, 3))
        assert t.shape.as_list() == [2, 3], (m, t.shape)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"{name}.{m}")


def test_normal_tails_and_beta_gamma_modes():
    n = tfd.Normal(F64(0.0), F64(1.0))
    z = np.array([-40.0, -21.0, -19.0, -8.0, 0.5, 9.0])
    nf = tfd.Normal(np.float32(0.0), np.float32(1.0))
    zf = np.array([-30.0, -11.0, -9.0, 4.0], np.float32)
    b = tfd.Beta(np.array([2.0, 3.0]), np.array([5.0, 1.5]))
    g = tfd.Gamma(np.array([2.0, 3.5]), np.array([0.5, 2.0]))
    lc, ls, lcf, bm, gm = _run(n.log_cdf(z), n.log_survival_function(-z), nf.log_cdf(zf),
                               b.mode(), g.mode())
    np.testing.assert_allclose(lc, special.log_ndtr(z), rtol=1e-10)
    np.testing.assert_allclose(ls, special.log_ndtr(z), rtol=1e-10)
    np.testing.assert_allclose(lcf, special.log_ndtr(zf.astype(F64)), rtol=1e-5)
    np.testing.assert_allclose(bm, [1.0 / 5.0, 2.0 / 2.5])
    np.testing.assert_allclose(gm, [2.0, 1.25])


def test_bernoulli_against_scipy():
    p = np.array([[0.1, 0.5, 0.85]])
    for dist in (tfd.Bernoulli(probs=p), tfd.Bernoulli(logits=np.log(p / (1 - p)))):
        k = np.array([[1], [0]])
        got = _run(dist.log_prob(k), dist.prob(k), dist.entropy(), dist.mean(), dist.variance(),
                   dist.stddev(), dist.mode(), dist.logits, dist.probs)
        np.testing.assert_allclose(got[0], stats.bernoulli(p).logpmf(k), rtol=1e-9)
        np.testing.assert_allclose(got[1], stats.bernoulli(p).pmf(k), rtol=1e-9)
        np.testing.assert_allclose(got[2], stats.bernoulli(p).entropy(), rtol=1e-9)
        np.testing.assert_allclose(got[3], p)
        np.testing.assert_allclose(got[4], p * (1 - p), rtol=1e-9)
        np.testing.assert_allclose(got[5], np.sqrt(p * (1 - p)), rtol=1e-9)
        assert got[6].tolist() == [[0, 0, 1]] and got[6].dtype == np.int32
        np.testing.assert_allclose(got[7], np.log(p / (1 - p)), rtol=1e-9)
        np.testing.assert_allclose(got[8], p, rtol=1e-12)


def test_categorical_values():
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    p = special.softmax(logits, -1)
    dist = tfd.Categorical(logits=logits)
    assert dist.batch_shape.as_list() == [2] and dist.event_shape.as_list() == []
    assert dist.event_size == 3 and dist.dtype == tf.int32
    k = np.array([[2, 0], [1, 1]])                     # (2, 2): broadcast over the batch
    lp, pr, cdf, ent, mode, probs = _run(dist.log_prob(k), dist.prob(k),
                                         dist.cdf(np.array([2, 0])), dist.entropy(),
                                         dist.mode(), dist.probs)
    np.testing.assert_allclose(lp, np.log(p[[0, 1], k]), rtol=1e-12)
    np.testing.assert_allclose(pr, p[[0, 1], k], rtol=1e-12)
    np.testing.assert_allclose(cdf, [p[0, :2].sum(), 0.0])       # TF1: P[X < k]
    np.testing.assert_allclose(ent, [stats.entropy(r) for r in p], rtol=1e-12)
    assert mode.tolist() == [1, 2]
    np.testing.assert_allclose(probs, p, rtol=1e-12)
    from_probs = tfd.Categorical(probs=p)
    np.testing.assert_allclose(_run(from_probs.log_prob(np.array([0, 2])))[0],
                               np.log([p[0, 0], p[1, 2]]), rtol=1e-12)


def test_multinomial_and_dirichlet_families_against_scipy():
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    n = np.array([4.0, 6.0])
    counts = np.array([[1.0, 1.0, 2.0], [3.0, 1.0, 2.0]])
    m = tfd.Multinomial(total_count=n, probs=p)
    assert m.batch_shape.as_list() == [2] and m.event_shape.as_list() == [3]
    alpha = np.array([[0.8, 2.0, 3.0], [1.5, 1.5, 4.0]])
    d = tfd.Dirichlet(alpha)
    x = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    dm = tfd.DirichletMultinomial(total_count=n, concentration=alpha)
    got = _run(m.log_prob(counts), m.mean(), m.variance(), m.covariance(), d.log_prob(x),
               d.entropy(), d.mean(), d.variance(), d.covariance(), dm.log_prob(counts),
               dm.mean(), dm.covariance(), dm.variance())
    np.testing.assert_allclose(got[0], [stats.multinomial(int(k), q).logpmf(c)
                                        for k, q, c in zip(n, p, counts)], rtol=1e-10)
    np.testing.assert_allclose(got[1], n[:, None] * p, rtol=1e-12)
    np.testing.assert_allclose(got[2], n[:, None] * p * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(got[3], [stats.multinomial(int(k), q).cov() for k, q in zip(n, p)],
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[4], [stats.dirichlet(a).logpdf(v) for a, v in zip(alpha, x)],
                               rtol=1e-10)
    np.testing.assert_allclose(got[5], [stats.dirichlet(a).entropy() for a in alpha], rtol=1e-10)
    np.testing.assert_allclose(got[6], [stats.dirichlet(a).mean() for a in alpha], rtol=1e-12)
    np.testing.assert_allclose(got[7], [stats.dirichlet(a).var() for a in alpha], rtol=1e-12)
    cov = [np.diag(a / a.sum()) - np.outer(a, a) / a.sum() ** 2 for a in alpha]
    np.testing.assert_allclose(got[8], [c / (1 + a.sum()) for c, a in zip(cov, alpha)],
                               rtol=1e-12, atol=1e-15)
    ref_dm = [stats.dirichlet_multinomial(a, int(k)) for a, k in zip(alpha, n)]
    np.testing.assert_allclose(got[9], [r.logpmf(c) for r, c in zip(ref_dm, counts)], rtol=1e-10)
    np.testing.assert_allclose(got[10], [r.mean() for r in ref_dm], rtol=1e-12)
    np.testing.assert_allclose(got[11], [r.cov() for r in ref_dm], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got[12], [r.var() for r in ref_dm], rtol=1e-10)


# ----- sampling: shapes, seeds, moments -----------------------------------------------------------
def _all_dists():
    return {
        "Normal": tfd.Normal(loc=[0.0, 1.0], scale=[[1.0], [2.0]]),
        "Uniform": tfd.Uniform(low=[0.0, 1.0], high=[[2.0], [3.0]]),
        "Laplace": tfd.Laplace(loc=[0.0, 1.0], scale=[[1.0], [2.0]]),
        "Gamma": tfd.Gamma(concentration=[0.5, 2.0], rate=[[1.0], [3.0]]),
        "Exponential": tfd.Exponential(rate=[[1.0, 2.0], [0.5, 4.0]]),
        "Beta": tfd.Beta([0.5, 2.0], [[1.0], [3.0]]),
        "StudentT": tfd.StudentT(5.0, [0.0, 1.0], [[1.0], [2.0]]),
        "Bernoulli": tfd.Bernoulli(probs=[[0.2, 0.7], [0.5, 0.9]]),
        "Categorical": tfd.Categorical(logits=np.log([[[0.2, 0.3, 0.5]] * 2] * 2)),
        "Multinomial": tfd.Multinomial(total_count=[[3.0], [5.0]], probs=[[0.2, 0.3, 0.5]] * 2),
        "Dirichlet": tfd.Dirichlet(np.full((2, 2, 3), 2.0)),
        "DirichletMultinomial": tfd.DirichletMultinomial([[3.0], [5.0]], [[1.0, 2.0, 3.0]] * 2),
    }


def test_sample_shapes_and_seeded_repeatability():
    tf.set_random_seed(7)
    dists = _all_dists()
    samples = {}
    for name, dist in dists.items():
        assert dist.batch_shape.as_list() == [2, 2], name
        s = dist.sample([4, 3], seed=11)
        want = [4, 3, 2, 2] + dist.event_shape.as_list()
        assert s.shape.as_list() == want, (name, s.shape)
        assert s.dtype == dist.dtype, name
        samples[name] = s
        scalar = dist.sample(seed=3)
        assert scalar.shape.as_list() == [2, 2] + dist.event_shape.as_list(), name
        samples[name + "_n"] = dist.sample(5, seed=3)
        assert samples[name + "_n"].shape.as_list()[0] == 5
    names = list(samples)
    first = dict(zip(names, _run(*samples.values())))
    again = dict(zip(names, _run(*samples.values())))
    for name in names:
        np.testing.assert_array_equal(first[name], again[name], err_msg=name)
    # a fed (dynamic) sample shape
    n = tf.placeholder(tf.int32, [2])
    dyn = dists["Normal"].sample(n, seed=1)
    assert dyn.shape.as_list() == [None, None, 2, 2]
    assert _run(dyn, feed={n: [3, 1]})[0].shape == (3, 1, 2, 2)
    ms = dists["Multinomial"].sample(2, seed=5)
    np.testing.assert_array_equal(_run(ms)[0].sum(-1), np.broadcast_to([[3.0], [5.0]], (2, 2, 2)))


def test_sample_moments():
    tf.set_random_seed(1)
    n = 20000
    checks = {
        "Normal": tfd.Normal(F64(1.5), F64(2.0)),
        "Uniform": tfd.Uniform(F64(-1.0), F64(3.0)),
        "Laplace": tfd.Laplace(F64(0.5), F64(1.5)),
        "Gamma": tfd.Gamma(F64(2.5), F64(2.0)),
        "Exponential": tfd.Exponential(F64(0.5)),
        "Beta": tfd.Beta(F64(2.0), F64(5.0)),
        "StudentT": tfd.StudentT(F64(6.0), F64(0.5), F64(1.5)),
        "Bernoulli": tfd.Bernoulli(probs=F64(0.3), dtype=tf.float64),
        "Dirichlet": tfd.Dirichlet(np.array([1.0, 2.0, 3.0])),
        "Multinomial": tfd.Multinomial(F64(6.0), probs=np.array([0.2, 0.3, 0.5])),
        "DirichletMultinomial": tfd.DirichletMultinomial(F64(6.0), np.array([1.0, 2.0, 3.0])),
    }
    names = list(checks)
    fetches = []
    for name in names:
        d = checks[name]
        fetches += [d.sample(n, seed=2), d.mean(), d.variance()]
    got = _run(*fetches)
    for i, name in enumerate(names):
        s, mean, var = got[3 * i: 3 * i + 3]
        np.testing.assert_allclose(s.mean(0), mean, atol=4 * np.sqrt(np.max(var) / n) + 1e-9,
                                   err_msg=name)
        np.testing.assert_allclose(s.var(0), var, rtol=0.1, err_msg=name)
    cat = tfd.Categorical(probs=np.array([0.1, 0.6, 0.3]))
    draws = _run(cat.sample(n, seed=4))[0]
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / n, [0.1, 0.6, 0.3], atol=0.015)


# ----- gradients ----------------------------------------------------------------------------------
def test_reparameterized_normal_sample_and_log_prob_gradients():
    loc = tf.Variable(np.array([0.5, -1.0]))
    scale = tf.Variable(np.array([1.5, 0.5]))
    dist = tfd.Normal(loc, scale)
    assert dist.reparameterization_type == tfd.FULLY_REPARAMETERIZED
    s = dist.sample(7, seed=3)
    g_loc, g_scale = tf.gradients(tf.reduce_sum(s), [loc, scale])
    x = tf.constant(np.array([0.2, 0.4]))
    lp = tf.reduce_sum(dist.log_prob(x))
    dlp_loc, dlp_scale = tf.gradients(lp, [loc, scale])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sv, gl, gs, a, b = sess.run([s, g_loc, g_scale, dlp_loc, dlp_scale])
    np.testing.assert_allclose(gl, [7.0, 7.0])
    np.testing.assert_allclose(gs, ((sv - [0.5, -1.0]) / [1.5, 0.5]).sum(0), rtol=1e-10)
    z = (np.array([0.2, 0.4]) - [0.5, -1.0]) / [1.5, 0.5]
    np.testing.assert_allclose(a, z / [1.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(b, (z ** 2 - 1) / [1.5, 0.5], rtol=1e-12)
    assert tfd.Bernoulli(probs=0.5).reparameterization_type == tfd.NOT_REPARAMETERIZED


def test_gamma_beta_dirichlet_samples_are_differentiable():
    tf.set_random_seed(3)
    rate = tf.constant(2.0, tf.float64)
    conc = tf.constant(3.0, tf.float64)
    s = tfd.Gamma(conc, rate).sample(20000, seed=1)
    m = tf.reduce_mean(s)
    d_conc, d_rate = tf.gradients(m, [conc, rate])
    bs = tfd.Beta(conc, rate).sample(20000, seed=2)
    d_b = tf.gradients(tf.reduce_mean(bs), [conc, rate])
    alpha = tf.constant(np.array([1.0, 2.0, 3.0]))
    ds = tfd.Dirichlet(alpha).sample(20000, seed=3)
    d_alpha = tf.gradients(tf.reduce_mean(ds[:, 0]), alpha)[0]
    got = _run(d_conc, d_rate, *d_b, d_alpha)
    np.testing.assert_allclose(got[:2], [1 / 2.0, -3.0 / 4.0], rtol=0.03)   # d(c/r)
    np.testing.assert_allclose(got[2:4], [2.0 / 25.0, -3.0 / 25.0], rtol=0.08)  # d(c/(c+r))
    np.testing.assert_allclose(got[4], np.array([5.0, -1.0, -1.0]) / 36.0, atol=0.004)


# ----- KL divergences -----------------------------------------------------------------------------
def test_kl_divergences():
    from scipy import integrate
    a = tfd.Normal(np.array([0.0, 1.0]), np.array([1.0, 0.5]))
    b = tfd.Normal(np.array([0.5, -1.0]), np.array([2.0, 1.0]))
    ba, bb = tfd.Bernoulli(probs=np.array([0.3, 0.9])), tfd.Bernoulli(logits=np.array([0.2, -1.0]))
    la, lb = np.array([[1.0, 0.0, -1.0]]), np.array([[0.5, 0.5, 2.0]])
    ca, cb = tfd.Categorical(logits=la), tfd.Categorical(logits=lb)
    beta_a, beta_b = tfd.Beta(F64(2.0), F64(3.0)), tfd.Beta(F64(0.7), F64(1.5))
    ga, gb = tfd.Gamma(F64(2.0), F64(3.0)), tfd.Gamma(F64(0.8), F64(1.2))
    ea = tfd.Exponential(F64(1.5))
    da, db = tfd.Dirichlet(np.array([1.0, 2.0, 3.0])), tfd.Dirichlet(np.array([2.0, 2.0, 0.5]))
    got = _run(tfd.kl_divergence(a, b), tfd.kl_divergence(ba, bb), tfd.kl_divergence(ca, cb),
               tfd.kl_divergence(beta_a, beta_b), tfd.kl_divergence(ga, gb),
               tfd.kl_divergence(ea, gb), tfd.kl_divergence(da, db), a.kl_divergence(b),
               a.cross_entropy(b))
    mu1, s1, mu2, s2 = np.array([0.0, 1.0]), np.array([1.0, 0.5]), np.array([0.5, -1.0]), 2.0 ** \
        np.array([1.0, 0.0])
    kl_n = np.log(s2 / s1) + (s1 ** 2 + (mu1 - mu2) ** 2) / (2 * s2 ** 2) - 0.5
    np.testing.assert_allclose(got[0], kl_n, rtol=1e-12)
    np.testing.assert_allclose(got[7], kl_n, rtol=1e-12)
    np.testing.assert_allclose(got[8], kl_n + 0.5 * np.log(2 * np.pi * np.e * s1 ** 2), rtol=1e-12)
    p, q = np.array([0.3, 0.9]), special.expit([0.2, -1.0])
    np.testing.assert_allclose(got[1], p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)),
                               rtol=1e-10)
    pa, pb = special.softmax(la, -1), special.softmax(lb, -1)
    np.testing.assert_allclose(got[2], (pa * np.log(pa / pb)).sum(-1), rtol=1e-12)

    def quad_kl(p, q, lo, hi):
        return integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), lo, hi)[0]

    np.testing.assert_allclose(got[3], quad_kl(stats.beta(2, 3), stats.beta(0.7, 1.5), 0, 1),
                               rtol=1e-7)
    np.testing.assert_allclose(got[4], quad_kl(stats.gamma(2, scale=1 / 3.0),
                                               stats.gamma(0.8, scale=1 / 1.2), 0, np.inf),
                               rtol=1e-7)
    np.testing.assert_allclose(got[5], quad_kl(stats.expon(scale=1 / 1.5),
                                               stats.gamma(0.8, scale=1 / 1.2), 0, np.inf),
                               rtol=1e-7)
    xs = np.random.default_rng(0).dirichlet([1.0, 2.0, 3.0], 200000)
    mc = np.mean(stats.dirichlet([1.0, 2.0, 3.0]).logpdf(xs.T)
                 - stats.dirichlet([2.0, 2.0, 0.5]).logpdf(xs.T))
    np.testing.assert_allclose(got[6], mc, rtol=0.02)


def test_register_kl_and_lookup_through_subclasses():
    class MyNormal(tfd.Normal):
        pass

    a = MyNormal(F64(0.0), F64(1.0))
    b = tfd.Normal(F64(1.0), F64(1.0))
    np.testing.assert_allclose(_run(tfd.kl_divergence(a, b))[0], 0.5)   # inherited pair

    @tfd.RegisterKL(MyNormal, tfd.Normal)
    def _kl(x, y, name=None):
        return tf.constant(42.0, tf.float64)

    assert _run(tfd.kl_divergence(a, b))[0] == 42.0
    with pytest.raises(ValueError, match="already been registered"):
        tfd.RegisterKL(MyNormal, tfd.Normal)(_kl)
    with pytest.raises(NotImplementedError, match="No KL"):
        tfd.kl_divergence(tfd.Laplace(0.0, 1.0), tfd.Normal(0.0, 1.0))
    bad = tfd.kl_divergence(tfd.Normal(F64(0.0), F64(np.nan)), b, allow_nan_stats=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
        _run(bad)


# ----- argument checks, statistics that are undefined, metadata --------------------------------
@pytest.mark.filterwarnings("ignore:invalid value")
def test_validate_args_and_undefined_statistics():
    cases = [
        lambda: tfd.Normal(0.0, -1.0, validate_args=True).mean(),
        lambda: tfd.Uniform(2.0, 1.0, validate_args=True).mean(),
        lambda: tfd.Gamma(-1.0, 1.0, validate_args=True).mean(),
        lambda: tfd.Beta(1.0, 0.0, validate_args=True).mean(),
        lambda: tfd.Beta(2.0, 2.0, validate_args=True).log_prob(1.5),
        lambda: tfd.Bernoulli(probs=1.5, validate_args=True).mean(),
        lambda: tfd.Categorical(probs=[0.5, 0.6], validate_args=True).probs,
        lambda: tfd.Categorical(logits=[0.0, 1.0], validate_args=True).log_prob(2),
        lambda: tfd.Multinomial(3.0, probs=[0.5, 0.5], validate_args=True).log_prob([1.0, 1.0]),
        lambda: tfd.Dirichlet([1.0, -2.0], validate_args=True).mean(),
        lambda: tfd.Beta(0.5, 2.0, allow_nan_stats=False).mode(),
        lambda: tfd.Gamma(0.5, 2.0, allow_nan_stats=False).mode(),
    ]
    for build in cases:     # raised when the graph is built (constant arguments) or run
        with pytest.raises(tf.errors.InvalidArgumentError):
            _run(build())
    fed = tf.placeholder(tf.float32)
    checked = tfd.Normal(0.0, fed, validate_args=True).sample(seed=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="scale must be positive"):
        _run(checked, feed={fed: -1.0})
    ok = tfd.Normal(0.0, 2.0, validate_args=True).stddev()
    assert _run(ok)[0] == 2.0
    nan_mode = _run(tfd.Beta([0.5, 2.0], 2.0).mode(), tfd.Dirichlet([0.5, 2.0]).mode())
    assert np.isnan(nan_mode[0][0]) and nan_mode[0][1] == 0.5 and np.isnan(nan_mode[1]).all()
    with pytest.raises(ValueError, match="not both"):
        tfd.Bernoulli(logits=0.0, probs=0.5)
    with pytest.raises(ValueError, match="not both"):
        tfd.Categorical()
    with pytest.raises(TypeError, match="dtype"):
        tfd.Normal(tf.constant(0.0), tf.constant(1.0, tf.float64))
    with pytest.raises(NotImplementedError, match="entropy is not implemented: Multinomial"):
        tfd.Multinomial(2.0, probs=[0.5, 0.5]).entropy()


def test_metadata_names_and_namespace():
    assert tf.compat.v1.distributions is tfd
    d = tfd.Normal(loc=0.0, scale=1.0, name="MyNormal")
    assert d.name.startswith("MyNormal") and d.parameters["loc"] == 0.0
    assert set(d.parameters) == {"loc", "scale", "validate_args", "allow_nan_stats", "name"}
    assert not d.validate_args and d.allow_nan_stats
    assert d.sample(seed=1).op.name.startswith(d.name + "sample")
    assert d.log_prob(0.5, name="lp").op.name.startswith(d.name + "lp/")
    assert tfd.Exponential(2.0).parameters["rate"] == 2.0
    c = d.copy(scale=3.0)
    assert isinstance(c, tfd.Normal) and c.parameters["scale"] == 3.0
    assert "batch_shape=()" in str(d) and "tf.distributions.Normal" in repr(d)
    shapes = tfd.Normal.param_static_shapes([5, 2])
    assert shapes["loc"].as_list() == [5, 2] and shapes["scale"].as_list() == [5, 2]
    assert d.is_scalar_batch() and d.is_scalar_event()
    assert tfd.Dirichlet([[1.0, 2.0]]).event_shape_tensor().shape.as_list() == [1]
    assert _run(tfd.Dirichlet([[1.0, 2.0]]).batch_shape_tensor())[0].tolist() == [1]


def test_vae_elbo_step_lowers_the_loss():
    tf.set_random_seed(0)
    rng = np.random.default_rng(0)
    protos = (rng.random((4, 12)) > 0.5).astype(np.float32)
    data = protos[rng.integers(0, 4, 64)]
    x = tf.placeholder(tf.float32, [None, 12])
    with tf.variable_scope("vae"):
        h = tf.layers.dense(x, 16, activation=tf.nn.tanh)
        q = tfd.Normal(loc=tf.layers.dense(h, 2),
                       scale=tf.nn.softplus(tf.layers.dense(h, 2)) + 1e-3)
        z = q.sample(seed=1)
        logits = tf.layers.dense(tf.layers.dense(z, 16, activation=tf.nn.tanh), 12)
    likelihood = tf.reduce_sum(tfd.Bernoulli(logits=logits).log_prob(x), 1)
    prior = tfd.Normal(loc=tf.zeros([2]), scale=tf.ones([2]))
    kl = tf.reduce_sum(tfd.kl_divergence(q, prior), 1)
    loss = -tf.reduce_mean(likelihood - kl)
    step = tf.train.AdamOptimizer(0.05).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = np.mean([sess.run(loss, {x: data}) for _ in range(5)])
        for _ in range(60):
            sess.run(step, {x: data})
        after = np.mean([sess.run(loss, {x: data}) for _ in range(5)])
    assert after < before - 1.0, (before, after)


def test_parameters_of_unknown_shape():
    loc = tf.placeholder(tf.float32, None)
    logits = tf.placeholder(tf.float32, [None, None])
    total = tf.placeholder(tf.float32, [None])
    normal = tfd.Normal(loc, 1.0)
    cat = tfd.Categorical(logits=logits)
    multi = tfd.Multinomial(total, logits=logits)
    dirichlet = tfd.Dirichlet(tf.exp(logits))
    assert cat.batch_shape.as_list() == [None] and multi.event_shape.as_list() == [None]
    outs = [normal.sample(3, seed=1), normal.batch_shape_tensor(), cat.sample(2, seed=1),
            cat.log_prob([0, 2]), multi.sample(2, seed=1),
            multi.log_prob([[1.0, 1.0, 1.0], [0.0, 0.0, 4.0]]), dirichlet.sample(2, seed=1),
            dirichlet.event_shape_tensor()]
    lv = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], np.float32)
    got = _run(*outs, feed={loc: [0.0, 1.0], logits: lv, total: [3.0, 4.0]})
    assert got[0].shape == (3, 2) and got[1].tolist() == [2] and got[2].shape == (2, 2)
    logp = lv - special.logsumexp(lv, -1, keepdims=True)
    np.testing.assert_allclose(got[3], [logp[0, 0], logp[1, 2]], rtol=1e-5)
    np.testing.assert_array_equal(got[4].sum(-1), [[3.0, 4.0]] * 2)
    np.testing.assert_allclose(got[5], [stats.multinomial(3, np.exp(logp[0])).logpmf([1, 1, 1]),
                                        stats.multinomial(4, np.exp(logp[1])).logpmf([0, 0, 4])],
                               rtol=1e-5)
    assert got[6].shape == (2, 2, 3) and got[7].tolist() == [3]
