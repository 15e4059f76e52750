"""The TensorFlow side of the conditional flows: network, bijector chain, optimizer.

This is the only clustermass module that imports TensorFlow, TensorFlow
Probability and tf-keras, and it does so on first use (`tf_modules`), with
TensorFlow's start-up chatter silenced and its Python logger raised to ERROR
(`quiet_tensorflow_logger`): ``import clustermass.flow`` is cheap, and
inference prints nothing from TensorFlow.
Everything it exposes takes and returns numpy arrays and Python numbers; TF
tensors never leave it.

A `Network` holds the tf-keras MLPs of one flow, the standardisation of its
inputs and of log M, and the compiled functions that evaluate the density,
draw samples and take training steps. The bijector chain is built from TFP
bijectors only (``Shift``, ``Scale``, ``RationalQuadraticSpline``); no
log-density is written by hand.

Private module with public names: `clustermass.flow.model` and
`clustermass.flow.fit` import from it.
"""

import contextlib
import functools
import logging
import os
import sys
import warnings

import numpy as np

from ..exceptions import ModelError
from .config import MIN_SPLINE_BIN

__all__ = ["tf_modules", "quiet_tensorflow_logger", "native_stderr_silenced",
           "no_root_logging_setup", "backend_versions", "smoothing_matrices", "Network",
           "Checkpoints"]

__doctest_requires__ = {"*": ["tensorflow_probability"]}

# Smallest derivative of a spline at its knots.
_MIN_SLOPE = 1e-3


# ----------------------------------------------------------------------------
# Lazy TensorFlow
# ----------------------------------------------------------------------------
@functools.cache
def tf_modules():
    """Import TensorFlow, TFP and tf-keras once; return them in a namespace.

    The namespace has ``tf``, ``tfp``, ``tfd`` (distributions), ``tfb``
    (bijectors) and ``keras`` (tf-keras).
    """
    from types import SimpleNamespace

    # TensorFlow's C++ start-up chatter (no GPU found, CPU instructions) is not for
    # our users; an explicit setting of the variable wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Before the import: TensorFlow logs (at DEBUG) while it imports.
    quiet_tensorflow_logger()
    with warnings.catch_warnings(), native_stderr_silenced():
        # TFP < 0.26 checks the TF version with distutils' LooseVersion, which
        # warns on import; nothing a user can act on.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import tensorflow as tf
        import tensorflow_probability as tfp
        import tf_keras

        # Force TFP's lazy loaders while warnings are off: a lazy module is loaded
        # (and TFP's version check warns) on the first access to one of its names.
        tfp.distributions.Normal  # noqa: B018
        tfp.bijectors.RationalQuadraticSpline  # noqa: B018
        # Device discovery (CUDA initialisation) logs too; do it now, silently.
        tf.config.list_physical_devices()
    return SimpleNamespace(tf=tf, tfp=tfp, tfd=tfp.distributions, tfb=tfp.bijectors,
                           keras=tf_keras)


def quiet_tensorflow_logger(logger=None):
    """Raise TensorFlow's Python logger to ERROR unless the user has chosen a level.

    TensorFlow logs warnings such as "5 out of the last 5 calls to ... triggered
    tf.function retracing" through the ``"tensorflow"`` logger, printed as
    ``WARNING:tensorflow:...`` in terminals and notebooks. None is for our
    users. A level set before TensorFlow was imported (e.g.
    ``logging.getLogger("tensorflow").setLevel("WARNING")`` to see them) is
    kept. Returns the logger.
    """
    logger = logging.getLogger("tensorflow") if logger is None else logger
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    return logger


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what C++ code writes to the process's standard error to the null device meanwhile.

    TensorFlow >= 2.17 logs through absl before its logging is initialised, which
    ``TF_CPP_MIN_LOG_LEVEL`` does not reach ("All log messages before
    absl::InitializeLog() is called are written to STDERR", oneDNN and CUDA
    notices). Such code writes to file descriptor 2 whatever ``sys.stderr`` is,
    so that descriptor is redirected, not ``sys.stderr.fileno()``: under
    pytest's capture or in a Jupyter kernel (which forwards descriptor 2 to
    the notebook) the two differ. Python exceptions are unaffected (they are
    printed after the block); where descriptor 2 cannot be duplicated nothing
    is changed.
    """
    fd = 2
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(null)


@contextlib.contextmanager
def no_root_logging_setup():
    """Keep absl (used by TF's checkpointing) from calling ``logging.basicConfig()``.

    ``absl.logging.log`` configures the root logger when it has no handlers,
    after which every clustermass message is printed twice. A temporary
    `logging.NullHandler` on the root logger prevents that; it is removed again.
    """
    root = logging.getLogger()
    guard = None
    if not root.handlers:
        guard = logging.NullHandler()
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard is not None:
            root.removeHandler(guard)


def backend_versions():
    """Versions of TensorFlow, TensorFlow Probability and tf-keras (a dict of str)."""
    T = tf_modules()
    return {"tensorflow": T.tf.__version__, "tensorflow_probability": T.tfp.__version__,
            "tf_keras": T.keras.__version__}


def smoothing_matrices(sigma, shape):
    """Gaussian smoothing matrices (zero padding, kernel cut at 3 sigma) for each axis.

    Returns `None` when ``sigma`` is 0, else one float32 matrix per axis of
    ``shape``; ``S_r @ image @ S_v.T`` is the smoothed image.
    """
    if not sigma:
        return None
    out = []
    for n in shape:
        i = np.arange(n)
        d = i[:, None] - i[None, :]
        m = np.exp(-0.5 * (d / sigma) ** 2) * (np.abs(d) <= max(1, int(np.ceil(3 * sigma))))
        # Normalise by the full (untruncated-by-edges) kernel sum.
        half = max(1, int(np.ceil(3 * sigma)))
        k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
        out.append((m / k.sum()).astype(np.float32))
    return tuple(out)


def _n_params(config, kind):
    return 2 if kind == "affine" else 3 * config.spline_bins - 1


def _build_net(config, n_in, seed):
    """Functional tf-keras model: scaled histogram -> one parameter vector per block."""
    K = tf_modules().keras
    counter = iter(range(10**6))

    def dense(units, activation, name, zero=False):
        init = (K.initializers.Zeros() if zero
                else K.initializers.GlorotUniform(seed=int(seed) * 1000 + next(counter)))
        return K.layers.Dense(units, activation=activation, name=name,
                              kernel_initializer=init, bias_initializer="zeros")

    inputs = K.Input(shape=(n_in,), name="d")
    h = inputs
    for i, units in enumerate(config.embedding_units):
        h = dense(units, config.activation, f"embedding_{i}")(h)
    outputs = []
    for b, kind in enumerate(config.blocks):
        hb = h
        for i, units in enumerate(config.block_units):
            hb = dense(units, config.activation, f"block{b}_{kind}_hidden{i}")(hb)
        # Zero-initialised output layer: the flow starts as the identity, i.e.
        # the training distribution of log M.
        outputs.append(dense(_n_params(config, kind), None, f"block{b}_{kind}_params",
                             zero=True)(hb))
    return K.Model(inputs=inputs, outputs=outputs, name=f"massflow_{config.name}")


# ----------------------------------------------------------------------------
# The network of one flow
# ----------------------------------------------------------------------------
class Network:
    """The TensorFlow objects of one flow: MLPs, scaling, compiled functions.

    Parameters
    ----------
    config : `~clustermass.flow.FlowConfig`
        Architecture and input transform.
    n_in : int
        Number of histogram bins.
    seed : int, optional
        Seed of the initial weights.
    shape : tuple of int, optional
        Shape ``(n_r, n_v)`` of the histogram (default ``(1, n_in)``); ``config.pool``
        must divide both.
    """

    def __init__(self, config, n_in, seed=0, shape=None):
        tf = tf_modules().tf
        self.config = config
        self.n_in = int(n_in)
        self.shape = (1, self.n_in) if shape is None else tuple(shape)
        self.pooled_shape = tuple(n // int(config.pool) for n in self.shape)
        # With config.condition_redshift the network's input rows carry the
        # cluster redshift after the n_in histogram bins; it becomes the last feature.
        self.n_z = int(config.condition_redshift)
        self.n_feat = n_feat = int(np.prod(self.pooled_shape)) + (
            sum(self.shape) if config.marginals else 0) + self.n_z
        self.module = tf.Module(name="massflow")
        self.module.net = _build_net(config, n_feat, seed)
        self.module.x_mean = tf.Variable(tf.zeros([n_feat]), trainable=False, name="x_mean")
        self.module.x_scale = tf.Variable(tf.ones([n_feat]), trainable=False, name="x_scale")
        self.module.y_mean = tf.Variable(0.0, trainable=False, name="y_mean")
        self.module.y_std = tf.Variable(1.0, trainable=False, name="y_std")
        self.smoothers = smoothing_matrices(config.smooth, self.shape)
        spec_x = tf.TensorSpec([None, n_in + self.n_z], tf.float32)
        spec_y = tf.TensorSpec([None], tf.float32)
        # One compiled function per task and network, each traced once: the
        # signatures leave the batch and grid sizes open, so that any number of
        # clusters, galaxies or grid points reuses the same trace (a new trace
        # per call cost ~0.3 s and ~5 MB that were never freed).
        self._raw_features_fn = tf.function(lambda c: self._raw_features(c),
                                            input_signature=[spec_x], autograph=False)
        self._log_prob_pairs_fn = tf.function(lambda c, y: self._log_prob_pairs(c, y),
                                              input_signature=[spec_x, spec_y], autograph=False)
        self._log_prob_grid_fn = tf.function(lambda c, g: self._log_prob_grid(c, g),
                                             input_signature=[spec_x, spec_y], autograph=False)
        self._sample_fn = tf.function(lambda c, n, s: self._sample(c, n, s), input_signature=[
            spec_x, tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)], autograph=False)
        self.optimizer = None
        self._train_step = None
        self._best = None

    def tracing_count(self):
        """How many times each compiled inference function has been traced (a dict).

        Keys ``"raw_features"``, ``"log_prob_pairs"``, ``"log_prob_grid"``,
        ``"sample"``; each is 0 before its first call and 1 after, whatever the
        number of calls and the batch or grid sizes. More means retracing.
        """
        fns = {"raw_features": self._raw_features_fn, "log_prob_pairs": self._log_prob_pairs_fn,
               "log_prob_grid": self._log_prob_grid_fn, "sample": self._sample_fn}
        return {k: int(f.experimental_get_tracing_count()) for k, f in fns.items()}

    @property
    def net(self):
        """The tf-keras model (histogram features -> one parameter vector per block)."""
        return self.module.net

    # -- description -----------------------------------------------------------
    def architecture(self):
        """The blocks and their networks (`~clustermass.flow.MassFlow.architecture`)."""
        cfg = self.config
        layers = {layer.name: layer for layer in self.net.layers}
        emb = [layers[f"embedding_{i}"] for i in range(len(cfg.embedding_units))]
        out = []
        for b, kind in enumerate(cfg.blocks):
            own = [layers[f"block{b}_{kind}_hidden{i}"] for i in range(len(cfg.block_units))]
            hidden = [(int(layer.units), layer.activation.__name__) for layer in emb + own]
            if kind == "affine":
                outputs = {"shift": "linear", "scale": "exponential"}
            else:
                outputs = {"bins": cfg.spline_bins,
                           "range": [-cfg.spline_bound, cfg.spline_bound]}
            out.append({"kind": kind, "hidden": hidden, "outputs": outputs})
        return out

    def layers(self):
        """``(name, class name, units, activation, input size)`` of each layer with weights."""
        out = []
        for layer in self.net.layers:
            if not layer.weights:
                continue
            act = getattr(layer, "activation", None)
            out.append((layer.name, type(layer).__name__, int(getattr(layer, "units", 0)),
                        getattr(act, "__name__", None), int(layer.input.shape[-1])))
        return out

    def chain(self):
        """Class names of the base distribution and of the bijectors (log M side first)."""
        tf = tf_modules().tf
        dist = self._distribution(tf.zeros([2, self.n_in]))
        return (type(dist.distribution).__name__,
                [type(b).__name__ for b in dist.bijector.bijectors])

    # -- scaling ---------------------------------------------------------------
    def set_scaling(self, s):
        """Set the standardisation (``x_mean``, ``x_scale``, ``y_mean``, ``y_std``)."""
        self.module.x_mean.assign(np.asarray(s["x_mean"], np.float32))
        self.module.x_scale.assign(np.asarray(s["x_scale"], np.float32))
        self.module.y_mean.assign(float(s["y_mean"]))
        self.module.y_std.assign(float(s["y_std"]))

    def get_scaling(self):
        """The standardisation as numpy arrays and floats."""
        m = self.module
        return {"x_mean": m.x_mean.numpy(), "x_scale": m.x_scale.numpy(),
                "y_mean": float(m.y_mean.numpy()), "y_std": float(m.y_std.numpy())}

    def raw_features(self, counts):
        """Transformed (smoothed, pooled) histograms before standardisation, float32."""
        return self._raw_features_fn(counts).numpy()

    def _raw_features(self, counts):
        tf = tf_modules().tf
        z = None
        if self.n_z:
            counts, z = counts[:, :self.n_in], counts[:, self.n_in:]
        norm = self.config.normalize
        if norm == "log1p":
            f = tf.math.log1p(counts)
        elif norm == "fraction":
            total = tf.reduce_sum(counts, axis=-1, keepdims=True)
            f = counts / tf.maximum(total, 1.0) * float(self.n_in)
        else:
            f = counts
        marginals = None
        if self.config.marginals:
            # Full-resolution radial profile and velocity distribution, unsmoothed.
            img0 = tf.reshape(f, (-1, *self.shape))
            marginals = [tf.reduce_mean(img0, axis=2), tf.reduce_mean(img0, axis=1)]
        if self.smoothers is not None:
            # Separable Gaussian smoothing of the (R, v) image with zero padding,
            # as two small matrix products: S_r @ image @ S_v^T.
            s_r, s_v = (tf.constant(m, tf.float32) for m in self.smoothers)
            img = tf.reshape(f, (-1, *self.shape))
            img = tf.einsum("ij,bjk,lk->bil", s_r, img, s_v)
            f = tf.reshape(img, (-1, self.n_in))
        k = int(self.config.pool)
        if k > 1:
            (pr, pv) = self.pooled_shape
            img = tf.reshape(f, (-1, pr, k, pv, k))
            f = tf.reshape(tf.reduce_mean(img, axis=(2, 4)), (-1, pr * pv))
        if marginals is not None:
            f = tf.concat([f, *marginals], axis=-1)
        if z is not None:
            f = tf.concat([f, z], axis=-1)
        return f

    def _features(self, counts):
        return (self._raw_features(counts) - self.module.x_mean) / self.module.x_scale

    # -- the distribution ------------------------------------------------------
    def _spline(self, p):
        T = tf_modules()
        tf = T.tf
        k = self.config.spline_bins
        bound = float(self.config.spline_bound)
        free = 2.0 * bound - k * MIN_SPLINE_BIN
        widths = tf.math.softmax(p[:, :k], axis=-1) * free + MIN_SPLINE_BIN
        heights = tf.math.softmax(p[:, k:2 * k], axis=-1) * free + MIN_SPLINE_BIN
        # softplus(0 + log(e - 1)) = 1: zero parameters give the identity.
        slopes = _MIN_SLOPE + (1.0 - _MIN_SLOPE) * tf.math.softplus(
            p[:, 2 * k:] + float(np.log(np.expm1(1.0))))
        return T.tfb.RationalQuadraticSpline(widths, heights, slopes, range_min=-bound)

    def _distribution(self, counts, training=False):
        """``TransformedDistribution`` over log M with batch shape ``(n_clusters,)``."""
        T = tf_modules()
        tf, tfb, tfd = T.tf, T.tfb, T.tfd
        outs = self.net(self._features(counts), training=training)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        forward = []  # from the base towards log M
        for kind, p in zip(self.config.blocks, outs, strict=True):
            if kind == "affine":
                forward += [tfb.Scale(log_scale=p[:, 1]), tfb.Shift(p[:, 0])]
            else:
                forward.append(self._spline(p))
        # Undo the standardisation of log M (fixed, fitted on the training split).
        forward += [tfb.Scale(tf.convert_to_tensor(self.module.y_std)),
                    tfb.Shift(tf.convert_to_tensor(self.module.y_mean))]
        base = tfd.Normal(loc=tf.zeros_like(outs[0][:, 0]), scale=1.0)
        return tfd.TransformedDistribution(base, tfb.Chain(forward[::-1]))

    def _log_prob_pairs(self, counts, y):
        return self._distribution(counts).log_prob(y)

    def _log_prob_grid(self, counts, grid):
        # (n_grid, 1) against batch (n,) -> (n_grid, n) -> (n, n_grid)
        tf = tf_modules().tf
        lp = self._distribution(counts).log_prob(grid[:, tf.newaxis])
        return tf.transpose(lp)

    def _sample(self, counts, n, seed):
        tf = tf_modules().tf
        return tf.transpose(self._distribution(counts).sample(n, seed=seed))

    def log_prob_pairs(self, counts, log_mass):
        """``log p(log_mass[i] | counts[i])`` (float32 arrays in, float32 array out)."""
        return self._log_prob_pairs_fn(counts, log_mass).numpy()

    def log_prob_grid(self, counts, grid):
        """``log p(grid[j] | counts[i])``, shape ``(n, n_grid)``."""
        return self._log_prob_grid_fn(counts, grid).numpy()

    def sample(self, counts, n, seed):
        """``n`` draws per cluster, shape ``(n_clusters, n)``; ``seed`` is an int32 pair."""
        return self._sample_fn(counts, np.int32(n), np.asarray(seed, np.int32)).numpy()

    # -- training --------------------------------------------------------------
    def start_training(self, config):
        """Make the Adam optimizer, the compiled training step and the best-weights copy."""
        T = tf_modules()
        tf = T.tf
        lr = float(config.learning_rate)
        if config.lr_half_life is not None:
            lr = T.keras.optimizers.schedules.ExponentialDecay(
                lr, decay_steps=int(config.lr_half_life), decay_rate=0.5)
        self.optimizer = T.keras.optimizers.Adam(
            learning_rate=lr, beta_1=config.beta_1, beta_2=config.beta_2)
        self.optimizer.build(self.net.trainable_variables)
        spec_x = tf.TensorSpec([None, self.n_in + self.n_z], tf.float32)
        spec_y = tf.TensorSpec([None], tf.float32)

        def step(counts, y):
            variables = self.net.trainable_variables
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(self._distribution(counts, training=True).log_prob(y))
            grads = tape.gradient(loss, variables)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return loss

        self._train_step = tf.function(step, input_signature=[spec_x, spec_y],
                                       autograph=False)
        self._best = tf.Module(name="best")
        self._best.weights = [tf.Variable(v, trainable=False)
                              for v in self.net.trainable_variables]

    def optimizer_state(self):
        """``{"iterations": int, "learning_rate": float}`` of the optimizer (after training)."""
        return {"iterations": int(self.optimizer.iterations.numpy()),
                "learning_rate": float(self.optimizer.learning_rate)}

    def keep_best(self):
        """Copy the current weights into the best-weights store."""
        for b, v in zip(self._best.weights, self.net.trainable_variables, strict=True):
            b.assign(v)

    def restore_best(self):
        """Copy the best-weights store back into the network."""
        for b, v in zip(self._best.weights, self.net.trainable_variables, strict=True):
            v.assign(b)

    def train(self, X, y, batch_rows, batch_size, start, stop, seed, augment, chunk=1000):
        """Take training updates ``start .. stop - 1``; yield each update's loss (a float).

        Parameters
        ----------
        X, y : ndarray
            All histograms (float32) and log masses.
        batch_rows : callable
            ``batch_rows(k)``: the rows of ``X`` in the batch of update ``k``
            (numpy, reproducible per update).
        batch_size : int
            Rows per batch (the length of every ``batch_rows(k)``).
        start, stop : int
            Updates to take.
        seed : int
            Seed of the thinning augmentation.
        augment : tuple of float or None
            Range of the probability of keeping a galaxy (see `~clustermass.flow.FlowConfig`).
        chunk : int, optional
            Updates per ``tf.data`` pipeline.

        Notes
        -----
        Each chunk of updates is a ``tf.data`` pipeline whose map gathers the
        rows and applies the optional binomial thinning (stateless, seeded by
        ``(seed, update)``), with prefetching. An update's batch is therefore
        the same whether or not the run was resumed.

        (``tf.data.Dataset.from_generator`` is avoided on purpose: its kernel
        sets glibc's ``M_TRIM_THRESHOLD`` for the whole process, after which
        every large temporary tensor is mapped and unmapped afresh, which
        tripled the cost of an update on CPU.)
        """
        tf = tf_modules().tf
        Xc = tf.constant(X)
        yc = tf.constant(np.asarray(y, np.float32))
        bs = int(batch_size)

        def load(rows, k):
            xb = tf.gather(Xc, rows)
            yb = tf.gather(yc, rows)
            if augment is not None:
                pair = tf.stack([tf.constant(seed, tf.int64), k])
                s_p, s_b = tf.unstack(tf.random.experimental.stateless_split(pair, num=2))
                p = tf.random.stateless_uniform([bs, 1], seed=s_p, minval=augment[0],
                                                maxval=augment[1])
                # Keeping each galaxy with probability p: Binomial(n, p) per bin (the
                # redshift column, if any, is not a count and is kept as it is).
                hb = xb[:, :self.n_in]
                hb = tf.random.stateless_binomial(tf.shape(hb), seed=s_b, counts=hb, probs=p,
                                                  output_dtype=tf.float32)
                xb = tf.concat([hb, xb[:, self.n_in:]], axis=-1) if self.n_z else hb
            return xb, yb

        for k0 in range(start, stop, chunk):
            ks = np.arange(k0, min(k0 + chunk, stop), dtype=np.int64)
            rows = np.stack([batch_rows(k) for k in ks]).astype(np.int64)
            ds = tf.data.Dataset.from_tensor_slices((rows, ks)).map(load).prefetch(2)
            for xb, yb in ds:
                yield float(self._train_step(xb, yb))

    def checkpoints(self, directory):
        """A `Checkpoints` store of the network, optimizer and best weights in ``directory``.

        Call after `start_training`.
        """
        tf = tf_modules().tf
        return Checkpoints(tf.train.Checkpoint(model=self.module, optimizer=self.optimizer,
                                               best=self._best), directory)

    # -- weights ---------------------------------------------------------------
    def weight_arrays(self):
        """``(name, array)`` of every weight of the network, in order."""
        return [(v.name, v.numpy()) for v in self.net.weights]

    def set_weight_arrays(self, arrays):
        """Set the weights from arrays in the order of `weight_arrays`."""
        variables = self.net.weights
        if len(arrays) != len(variables):
            raise ModelError(
                f"the weight file holds {len(arrays)} arrays, the network needs {len(variables)}"
            )
        for v, a in zip(variables, arrays, strict=True):
            if tuple(v.shape) != tuple(a.shape):
                raise ModelError(
                    f"weight {v.name}: shape {tuple(a.shape)} in the file, "
                    f"{tuple(v.shape)} expected by the configuration"
                )
        for v, a in zip(variables, arrays, strict=True):
            v.assign(a)


class Checkpoints:
    """Training checkpoints (``tf.train.CheckpointManager``, the last 3 kept).

    Made by `Network.checkpoints`.

    Parameters
    ----------
    checkpoint : ``tf.train.Checkpoint``
        What to save and restore.
    directory : str
        Where the checkpoints live.
    """

    def __init__(self, checkpoint, directory):
        tf = tf_modules().tf
        self._ckpt = checkpoint
        self._manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=3,
                                                   checkpoint_name="ckpt")
        self.directory = directory

    def save(self, update):
        """Write a checkpoint numbered ``update``; return its file name (no folder)."""
        with no_root_logging_setup():
            path = self._manager.save(checkpoint_number=update)
        return os.path.basename(path)

    def restore(self, name):
        """Restore the checkpoint ``name`` (as returned by `save`).

        Raises
        ------
        ModelError
            The checkpoint cannot be read or does not match the network.
        """
        path = os.path.join(self.directory, name)
        try:
            with no_root_logging_setup():
                self._ckpt.restore(path).assert_existing_objects_matched()
        except (tf_modules().tf.errors.OpError, AssertionError, ValueError) as exc:
            raise ModelError(f"cannot restore checkpoint {path}: {exc}") from exc
        return path
