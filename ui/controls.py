"""The Train page's controls: a preset or a custom network, the training settings, their state.

The widgets keep their values in ``st.session_state`` under ``train_*`` keys;
:func:`current_config` reads them back as one :class:`core.model.ModelConfig`.
"""

from __future__ import annotations

import math

import streamlit as st

from core.model import (
    ACTIVATIONS,
    BATCH_SIZES,
    DEFAULT_PRESET,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_SEED,
    MAX_UNITS,
    MAX_VALIDATION_SPLIT,
    OPTIMIZERS,
    PRESETS,
    ModelConfig,
)
from ui import lesson_link
from ui import runs as ui_runs
from ui.runs import escape_markdown

CUSTOM = "Custom"
K = "train_"  # prefix of the controls' widget keys (tests and old sessions know them)
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
PRESET_HELP = {
    "Book": "The chapter's network: Dense(10, sigmoid) → Dense(10, softmax), SGD.",
    "Dense": "One wide relu layer with Adam: about 98% in ten epochs.",
    "CNN": "Two convolution blocks (keras-io's mnist_convnet): about 99%, slower.",
    CUSTOM: "Build your own: 0 to 3 hidden Dense layers, your optimizer and learning rate.",
}


def _nearest(value: float, options: tuple) -> float:
    """The option closest to value on a log scale (learning rates, batch sizes)."""
    return min(options, key=lambda option: abs(math.log(option) - math.log(value)))


def _load_values(config: ModelConfig) -> None:
    """Put a configuration's values into the widgets (the builder starts from it too)."""
    state = st.session_state
    state[K + "epochs"] = config.epochs
    state[K + "batch"] = _nearest(config.batch_size, BATCH_SIZES)
    state[K + "val"] = config.validation_split
    state[K + "seed"] = config.seed
    state[K + "layers"] = min(len(config.hidden), MAX_HIDDEN_LAYERS)
    for i in range(MAX_HIDDEN_LAYERS):
        units, activation = config.hidden[i] if i < len(config.hidden) else (32, "relu")
        state[f"{K}units_{i}"] = units
        state[f"{K}act_{i}"] = activation
    state[K + "opt"] = config.optimizer
    state[K + "lr"] = _nearest(config.learning_rate, LEARNING_RATES)


def _on_preset_change() -> None:
    name = st.session_state[K + "preset"]
    if isinstance(name, str) and name in PRESETS:  # a forged value (not one of the options) changes nothing
        _load_values(PRESETS[name])
    # Custom keeps whatever the last preset put in place, to edit from there.


def _preset_of(config: ModelConfig) -> str:
    """The preset a configuration was made from ("Custom" when its network or optimizer differ)."""
    preset = PRESETS.get(config.name)
    schedule = dict(epochs=config.epochs, batch_size=config.batch_size,
                    validation_split=config.validation_split, seed=config.seed)
    return config.name if preset is not None and preset.replace(**schedule) == config else CUSTOM


def _starting_config() -> ModelConfig:
    """The active run's settings (a refresh loses nothing), else the book's."""
    run = ui_runs.active_run()
    if run is not None and run.config is not None:  # an old or odd config.json: the book's settings
        return run.config
    return PRESETS[DEFAULT_PRESET]


def _locked_config() -> ModelConfig | None:
    """The configuration a lesson link with ``lock=1`` fixes (None: nothing is locked)."""
    settings = lesson_link.lesson()
    if settings is None or not settings.lock:
        return None
    return settings.config(PRESETS[DEFAULT_PRESET])


def init_state() -> None:
    """A new session's controls start from a lesson link, else :func:`_starting_config`; later
    reruns keep the student's, except what a locked lesson fixes (set again on every run)."""
    settings = lesson_link.lesson()
    state = st.session_state
    if K + "preset" not in state:
        config = _starting_config()
        if settings is not None:
            config = settings.config(config)
        state[K + "preset"] = _preset_of(config)
        _load_values(config)
    locked = _locked_config()
    if locked is not None:
        if state[K + "preset"] != locked.name:
            state[K + "preset"] = locked.name
            _load_values(locked.replace(validation_split=state[K + "val"], seed=state[K + "seed"]))
        state[K + "epochs"] = locked.epochs
        state[K + "batch"] = locked.batch_size


def controls() -> None:
    """The preset, the custom builder and the training settings (values land in session_state)."""
    preset = st.session_state.get(K + "preset")
    if not isinstance(preset, str) or preset not in (*PRESETS, CUSTOM):  # forged: back to the book's
        st.session_state[K + "preset"] = DEFAULT_PRESET
    for note in lesson_link.notes():
        st.warning(escape_markdown(note), icon=":material/link_off:")
    locked = _locked_config() is not None
    if locked:
        st.info("Your teacher chose the network, the epochs and the batch size for this lesson: "
                "they are fixed here.", icon=":material/lock:")
    st.selectbox(
        "Model", [*PRESETS, CUSTOM], key=K + "preset", on_change=_on_preset_change,
        persist_state="session", help="A preset, or Custom to build your own.", disabled=locked,
    )
    preset = st.session_state[K + "preset"]
    st.caption(PRESET_HELP.get(preset, ""))
    if preset == CUSTOM:
        with st.container(border=True):
            st.slider("Hidden Dense layers", 0, MAX_HIDDEN_LAYERS, key=K + "layers", persist_state="session")
            for i in range(st.session_state[K + "layers"]):
                units_col, act_col = st.columns(2)
                units_col.number_input(
                    f"Layer {i + 1}: units", 1, MAX_UNITS, step=1, key=f"{K}units_{i}", persist_state="session"
                )
                act_col.selectbox(f"Layer {i + 1}: activation", ACTIVATIONS, key=f"{K}act_{i}", persist_state="session")
            opt_col, lr_col = st.columns(2)
            opt_col.selectbox("Optimizer", OPTIMIZERS, key=K + "opt", persist_state="session")
            lr_col.select_slider("Learning rate", LEARNING_RATES, key=K + "lr", persist_state="session")
    st.slider("Epochs", 1, MAX_EPOCHS, key=K + "epochs", persist_state="session", disabled=locked,
              help="How many times the network sees all the training images (the book: 5).")
    st.select_slider("Batch size", BATCH_SIZES, key=K + "batch", persist_state="session", disabled=locked,
                     help="Images per weight update (the book: 100, so 600 updates per epoch).")
    st.slider("Validation split", 0.0, MAX_VALIDATION_SPLIT, step=0.01, key=K + "val", format="%.2f",
              persist_state="session",
              help="Share of the training images held back (the last ones, as Keras does) to watch for overfitting.")
    st.number_input("Seed", 0, MAX_SEED, step=1, key=K + "seed", persist_state="session",
                    help="Same seed, same initial weights and batch order: the same result.")


def current_config() -> ModelConfig:
    """The ModelConfig the controls describe (ValueError when it is invalid, a forged value too)."""
    try:
        return _config_from(st.session_state)
    except (KeyError, TypeError) as error:  # a value that no widget offers
        raise ValueError(f"The training settings hold a value no control offers ({error}).") from None


def _config_from(state) -> ModelConfig:
    common = dict(
        epochs=int(state[K + "epochs"]), batch_size=int(state[K + "batch"]),
        validation_split=round(float(state[K + "val"]), 2), seed=int(state[K + "seed"]),
    )
    locked = _locked_config()
    if locked is not None:  # whatever the session holds, a locked lesson trains the teacher's network
        return locked.replace(validation_split=common["validation_split"], seed=common["seed"])
    preset = state[K + "preset"]
    if preset != CUSTOM:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ValueError(f"There is no preset called {str(preset)[:40]!r}.")
        return PRESETS[preset].replace(**common)
    hidden = tuple((int(state[f"{K}units_{i}"]), state[f"{K}act_{i}"]) for i in range(state[K + "layers"]))
    return ModelConfig(
        name=CUSTOM, kind="dense", hidden=hidden, optimizer=state[K + "opt"],
        learning_rate=float(state[K + "lr"]), **common,
    )
