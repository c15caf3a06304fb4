"""word2vec: skip-gram embeddings trained with noise-contrastive estimation.

    python examples/word2vec_skipgram.py [corpus.txt]

The TF1 tutorial's model: an embedding table looked up by center word,
``tf.nn.nce_loss`` against the context word with sampled negatives, plain SGD.  The
embedding and NCE weight gradients are ``IndexedSlices``: each step updates only the rows
of the words in the batch.
"""

import sys
from collections import Counter
from pathlib import Path

import numpy as np

import flowgrad as tf

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "skipgram_corpus.txt"


def skipgram_pairs(words: list[str], window: int = 2):
    counts = Counter(words)
    vocab = [w for w, _ in counts.most_common()]      # frequent words get small ids (Zipf)
    index = {w: i for i, w in enumerate(vocab)}
    ids = [index[w] for w in words]
    pairs = [(ids[i], ids[j]) for i in range(len(ids))
             for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i]
    return vocab, np.array(pairs, dtype=np.int64)


def main(path=CORPUS, steps: int = 300, batch: int = 64, dim: int = 16, seed: int = 0):
    """Trains; returns (mean loss of the first 20 steps, of the last 20, vocab, embeddings)."""
    words = Path(path).read_text().split()
    vocab, pairs = skipgram_pairs(words)
    v = len(vocab)
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    centers = tf.placeholder(tf.int64, [None])
    contexts = tf.placeholder(tf.int64, [None, 1])
    embeddings = tf.Variable(tf.random_uniform([v, dim], -1.0, 1.0))
    nce_w = tf.Variable(tf.truncated_normal([v, dim], stddev=1.0 / np.sqrt(dim)))
    nce_b = tf.Variable(tf.zeros([v]))
    embed = tf.nn.embedding_lookup(embeddings, centers)
    loss = tf.reduce_mean(tf.nn.nce_loss(weights=nce_w, biases=nce_b, labels=contexts,
                                         inputs=embed, num_sampled=8, num_classes=v))
    train = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
    rng = np.random.default_rng(seed)
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            b = pairs[rng.integers(0, len(pairs), batch)]
            _, lv = sess.run([train, loss], {centers: b[:, 0], contexts: b[:, 1:]})
            losses.append(lv)
        table = sess.run(embeddings)
    return float(np.mean(losses[:20])), float(np.mean(losses[-20:])), vocab, table


def nearest(word: str, vocab, table, k: int = 4) -> list[str]:
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    sims = unit @ unit[vocab.index(word)]
    return [vocab[i] for i in np.argsort(-sims)[1:k + 1]]


if __name__ == "__main__":
    first, last, vocab, table = main(*sys.argv[1:2])
    print(f"NCE loss: first 20 steps {first:.3f}, last 20 steps {last:.3f}")
    for w in ("king", "cat", "morning"):
        print(f"nearest to {w}: {', '.join(nearest(w, vocab, table))}")
