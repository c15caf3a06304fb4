"""``tf.distributions``: TF1's probability distributions (``Normal``, ``Bernoulli``,
``Categorical``, ``Uniform``, ``Beta``, ``Gamma``, ``Exponential``, ``Laplace``,
``StudentT``, ``Multinomial``, ``Dirichlet``, ``DirichletMultinomial``), their base class
and ``kl_divergence`` with ``RegisterKL``."""

from flowgrad.distributions.dirichlet import Dirichlet, DirichletMultinomial
from flowgrad.distributions.discrete import Bernoulli, Categorical, Multinomial
from flowgrad.distributions.distribution import (FULLY_REPARAMETERIZED, NOT_REPARAMETERIZED,
                                                 Distribution, ReparameterizationType)
from flowgrad.distributions.kullback_leibler import RegisterKL, kl_divergence
from flowgrad.distributions.univariate import (Beta, Exponential, Gamma, Laplace, Normal,
                                               StudentT, Uniform)

__all__ = ["Bernoulli", "Beta", "Categorical", "Dirichlet", "DirichletMultinomial",
           "Distribution", "Exponential", "FULLY_REPARAMETERIZED", "Gamma", "Laplace",
           "Multinomial", "NOT_REPARAMETERIZED", "Normal", "RegisterKL",
           "ReparameterizationType", "StudentT", "Uniform", "kl_divergence"]
