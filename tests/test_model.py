"""core.model: configurations, presets, the built Keras models and their summaries."""

from __future__ import annotations

import ast
import json
import threading

import numpy as np
from pathlib import Path

import pytest

from core.model import (
    DEFAULT_PRESET,
    PRESETS,
    LayerRow,
    LayerSpec,
    ModelConfig,
    build_model,
    count_params,
    input_shape_for,
    keras_summary_text,
    layer_specs,
    model_input,
    summary_rows,
)
from core.export import keras_script
from core.preprocess import model_input_code


# -- presets -----------------------------------------------------------------------
def test_presets_in_menu_order_with_book_first_and_default():
    assert list(PRESETS) == ["Book", "Dense", "CNN"]
    assert DEFAULT_PRESET == "Book"
    assert PRESETS["Book"] == ModelConfig()
    for name, config in PRESETS.items():
        assert config.name == name


def test_book_preset_is_the_chapter_model():
    book = PRESETS["Book"]
    assert book.kind == "dense"
    assert book.hidden == ((10, "sigmoid"),)
    assert (book.optimizer, book.learning_rate) == ("sgd", 0.01)  # SGD's default
    assert book.loss == "categorical_crossentropy"
    assert (book.batch_size, book.epochs, book.validation_split) == (100, 5, 0.0)
    assert book.dropout == 0.0


def test_book_summary_rows_explain_7960_params():
    rows = summary_rows(PRESETS["Book"])
    assert [r.name for r in rows] == ["dense", "dense_1"]
    assert [r.output_shape for r in rows] == ["(None, 10)", "(None, 10)"]
    assert [r.arithmetic for r in rows] == [
        "784 × 10 weights + 10 biases = 7,850",
        "10 × 10 weights + 10 biases = 110",
    ]
    assert sum(r.params for r in rows) == 7_960 == count_params(PRESETS["Book"])
    assert "dense (Dense)" in repr(rows[0])


@pytest.mark.parametrize("name", list(PRESETS))
def test_summary_totals_equal_keras_count_params(name):
    config = PRESETS[name]
    rows = summary_rows(config)
    assert all(isinstance(r, LayerRow) for r in rows)
    model = build_model(config)
    assert sum(r.params for r in rows) == model.count_params()
    assert [r.name for r in rows] == [layer.name for layer in model.layers]
    for row in rows:
        # the arithmetic ends in the row's own count (or says there is none)
        assert row.arithmetic.endswith(f"{row.params:,}") or (row.params == 0 and row.arithmetic == "no weights")


@pytest.mark.parametrize("config", [
    *PRESETS.values(),
    PRESETS["Dense"].replace(hidden=((64, "relu"), (32, "tanh"), (16, "sigmoid")), dropout=0.2),
    PRESETS["CNN"].replace(hidden=(), dropout=0.0),
    PRESETS["CNN"].replace(hidden=((32, "relu"), (8, "relu"))),
], ids=lambda c: c.architecture_text())
@pytest.mark.parametrize("image_shape", [(28, 28), (20, 24)])
def test_summary_rows_by_arithmetic_equal_the_keras_model(config, image_shape):
    """The table needs no TensorFlow, so every row is checked against the real Keras layers."""
    model = build_model(config, input_shape=image_shape)
    rows = summary_rows(config, input_shape=image_shape)
    assert len(rows) == len(model.layers)
    for row, layer in zip(rows, model.layers):
        shape = "(" + ", ".join("None" if s is None else str(s) for s in layer.output.shape) + ")"
        assert (row.name, row.layer_type, row.output_shape, row.params) == (
            layer.name, type(layer).__name__, shape, layer.count_params())


def test_summary_rows_do_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from core.model import PRESETS, summary_rows; "
            "[summary_rows(c) for c in PRESETS.values()]; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.split() == ["False", "False"]


def test_cnn_summary_has_conv_arithmetic_and_shapes():
    rows = {r.name: r for r in summary_rows(PRESETS["CNN"])}
    assert rows["conv2d"].arithmetic == "3 × 3 × 1 × 32 weights + 32 biases = 320"
    assert rows["conv2d"].output_shape == "(None, 26, 26, 32)"
    assert rows["conv2d_1"].arithmetic == "3 × 3 × 32 × 64 weights + 64 biases = 18,496"
    assert rows["flatten"].output_shape == "(None, 1600)"
    assert rows["max_pooling2d"].arithmetic == "no weights"


def test_keras_summary_text_is_keras_own_table():
    text = keras_summary_text(PRESETS["Book"])
    assert "dense (Dense)" in text and "dense_1 (Dense)" in text
    assert "7,960" in text and "7,850" in text


def test_summaries_are_cached_by_architecture_not_by_training_settings():
    from core import model as model_module

    config = PRESETS["Dense"].replace(hidden=((37, "tanh"),))  # an architecture no other test uses
    rows, text = summary_rows(config), keras_summary_text(config)
    rows_info, text_info = model_module._summary_rows.cache_info(), model_module._keras_summary_text.cache_info()
    # Epochs, seed, learning rate, optimizer, batch size and name change no layer: no new model.
    other = config.replace(name="Mine", epochs=7, seed=3, learning_rate=0.1, optimizer="sgd", batch_size=32)
    assert summary_rows(other) == rows and keras_summary_text(other) == text
    assert model_module._summary_rows.cache_info().misses == rows_info.misses
    assert model_module._keras_summary_text.cache_info().misses == text_info.misses
    # A new layer size is a new architecture.
    wider = summary_rows(config.replace(hidden=((38, "tanh"),)))
    assert wider[0].params == 784 * 38 + 38
    assert model_module._summary_rows.cache_info().misses == rows_info.misses + 1
    with pytest.raises(ValueError, match="keras_summary_text expects a ModelConfig"):
        keras_summary_text({"kind": "dense"})


def test_dense_preset_is_wider_relu_with_adam():
    dense = PRESETS["Dense"]
    assert dense.hidden[0][0] > 10 and dense.hidden[0][1] == "relu"
    assert dense.optimizer == "adam"


# -- validation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, message",
    [
        ({"hidden": ((10, "relu"),) * 4}, "at most 3 hidden layers"),
        ({"hidden": ((10, "softplus"),)}, "activation must be one of"),
        ({"hidden": ((0, "relu"),)}, "units must be an integer"),
        ({"hidden": ((2.5, "relu"),)}, "units must be an integer"),
        ({"hidden": "relu"}, "hidden must be a sequence"),
        ({"batch_size": 0}, "batch_size must be an integer from 1 to 60,000"),
        ({"batch_size": 60_001}, "batch_size must be an integer from 1 to 60,000"),
        ({"batch_size": 32.0}, "batch_size must be an integer"),
        ({"epochs": 0}, "epochs must be an integer from 1 to 50"),
        ({"epochs": 51}, "epochs must be an integer from 1 to 50"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"validation_split": 0.25}, "validation_split must be between 0 and 0.2"),
        ({"validation_split": -0.1}, "validation_split must be between 0 and 0.2"),
        ({"learning_rate": 0}, "learning_rate must be a positive number"),
        ({"learning_rate": float("nan")}, "learning_rate must be a positive number"),
        ({"optimizer": "adagrad"}, "optimizer must be one of"),
        ({"loss": "mse"}, "loss must be one of"),
        ({"kind": "rnn"}, "kind must be one of"),
        ({"dropout": 0.9}, "dropout must be between 0 and 0.8"),
        ({"seed": -1}, "seed must be an integer"),
        ({"name": " "}, "name must be a non-empty string"),
    ],
)
def test_invalid_configs_raise_clear_value_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**changes)


def test_several_errors_are_reported_together():
    with pytest.raises(ValueError) as info:
        ModelConfig(batch_size=0, epochs=99)
    assert "batch_size" in str(info.value) and "epochs" in str(info.value)


def test_limits_are_inclusive():
    config = ModelConfig(hidden=((1, "tanh"),) * 3, batch_size=60_000, epochs=50, validation_split=0.2)
    assert len(config.hidden) == 3
    assert ModelConfig(hidden=()).hidden == ()


# -- persistence and presentation ---------------------------------------------------
@pytest.mark.parametrize("name", list(PRESETS))
def test_to_dict_from_dict_round_trip_through_json(name):
    config = PRESETS[name]
    data = json.loads(json.dumps(config.to_dict()))
    assert data["hidden"] and isinstance(data["hidden"][0], dict) or not config.hidden
    again = ModelConfig.from_dict(data)
    assert again == config
    assert hash(again) == hash(config)


def test_from_dict_accepts_pairs_fills_defaults_and_rejects_unknown_keys():
    config = ModelConfig.from_dict({"name": "Mine", "hidden": [[32, "relu"], [16, "tanh"]], "seed": np.int64(3)})
    assert config.hidden == ((32, "relu"), (16, "tanh"))
    assert config.seed == 3 and type(config.seed) is int
    assert config.batch_size == ModelConfig().batch_size
    with pytest.raises(ValueError, match="unknown ModelConfig keys: \\['colour'\\]"):
        ModelConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="expects a mapping"):
        ModelConfig.from_dict([("name", "x")])


def test_repr_reads_like_the_network():
    text = repr(PRESETS["Book"])
    assert text.startswith("ModelConfig('Book': Dense(10, sigmoid) → Dense(10, softmax)")
    assert "sgd(learning_rate=0.01)" in text and "batch_size=100, epochs=5" in text
    assert "Conv2D(32" in repr(PRESETS["CNN"])


def test_replace_validates_again():
    assert PRESETS["Book"].replace(epochs=2).epochs == 2
    with pytest.raises(ValueError, match="epochs"):
        PRESETS["Book"].replace(epochs=0)


# -- built models ---------------------------------------------------------------------
def test_build_model_is_compiled_and_shaped():
    import keras

    book = build_model(PRESETS["Book"])
    assert isinstance(book, keras.Sequential)
    assert book.input_shape == (None, 784) and book.output_shape == (None, 10)
    assert book.optimizer.__class__.__name__ == "SGD"
    assert float(book.optimizer.learning_rate) == pytest.approx(0.01)
    assert book.layers[-1].activation.__name__ == "softmax"
    cnn = build_model(PRESETS["CNN"])
    assert cnn.input_shape == (None, 28, 28, 1)
    assert cnn.optimizer.__class__.__name__ == "Adam"


def test_same_seed_same_weights_even_from_another_thread():
    config = PRESETS["Book"].replace(seed=7)
    first = build_model(config).get_weights()
    other = {}
    worker = threading.Thread(target=lambda: other.update(w=build_model(config).get_weights()))
    worker.start()
    worker.join()
    for a, b in zip(first, other["w"]):
        np.testing.assert_array_equal(a, b)
    different = build_model(config.replace(seed=8)).get_weights()
    assert not np.array_equal(first[0], different[0])


def test_input_shapes_and_model_input():
    images = np.zeros((3, 28, 28), np.uint8)
    images[0, 0, 0] = 255
    dense = model_input(PRESETS["Book"], images)
    assert dense.shape == (3, 784) and dense.dtype == np.float32 and dense[0, 0] == 1.0
    assert model_input(PRESETS["CNN"], images).shape == (3, 28, 28, 1)
    assert input_shape_for(PRESETS["Book"], (8, 8)) == (64,)
    with pytest.raises(ValueError, match="expects \\(N, height, width\\)"):
        model_input(PRESETS["Book"], np.zeros((3, 784)))


def test_script_prepares_the_data_like_model_input():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    for name in ("Book", "CNN"):
        config = PRESETS[name]
        network_input = (None, *input_shape_for(config))
        scope = {"x": images}
        exec("\n".join(model_input_code("x", input_shape=network_input)), scope)
        assert scope["x"].dtype == np.float32
        np.testing.assert_array_equal(scope["x"], model_input(config, images))
        script = keras_script(config)
        for line in model_input_code("x_train", input_shape=network_input):
            assert line + "\n" in script


# -- one list of layer specs -------------------------------------------------------
@pytest.mark.parametrize("name", list(PRESETS))
def test_one_layer_list_makes_the_model_the_script_and_the_description(name):
    config = PRESETS[name]
    specs = layer_specs(config)
    assert specs[0].kind == "Input" and specs[0].options["shape"] == input_shape_for(config)
    assert specs[-1] == LayerSpec("Dense", (10,), (("activation", "softmax"),))
    model = build_model(config)
    assert [type(layer).__name__ for layer in model.layers] == [spec.kind for spec in specs[1:]]
    assert config.architecture_text() == " → ".join(spec.describe() for spec in specs[1:])
    script = keras_script(config)
    for spec in specs:
        assert f"    {spec.code()},\n" in script


def test_layer_spec_code_and_description_read_like_keras_io():
    conv, pool = layer_specs(PRESETS["CNN"])[1:3]
    assert conv.code() == 'layers.Conv2D(32, kernel_size=(3, 3), activation="relu")'
    assert conv.describe() == "Conv2D(32, 3×3, relu)"
    assert pool.code() == "layers.MaxPooling2D(pool_size=(2, 2))"
    assert pool.default_name == "max_pooling2d"
    assert layer_specs(PRESETS["Book"], input_shape=(8, 8))[0].code() == "keras.Input(shape=(64,))"
    layer = LayerSpec("Dropout", (0.25,)).build(name="dropout_3")
    assert (type(layer).__name__, layer.rate, layer.name) == ("Dropout", 0.25, "dropout_3")
    with pytest.raises(ValueError, match="kind must be one of"):
        LayerSpec("Conv3D")


def test_small_images_dense_ok_cnn_explained():
    assert build_model(PRESETS["Book"], input_shape=(8, 8)).input_shape == (None, 64)
    with pytest.raises(ValueError, match="at least 10×10"):
        build_model(PRESETS["CNN"], input_shape=(8, 8))


# -- exported script (static checks; tests/test_script_export.py runs it) -----------
@pytest.mark.parametrize("name", list(PRESETS))
def test_keras_script_is_valid_python_with_the_config(name):
    config = PRESETS[name]
    script = keras_script(config)
    ast.parse(script)
    assert f"SEED = {config.seed}" in script and "keras.utils.set_random_seed(SEED)" in script
    assert f"batch_size={config.batch_size}, epochs={config.epochs}" in script
    assert 'os.environ.get("MNIST_PATH")' in script
    assert "keras.datasets.mnist.load_data()" in script
    assert "Test accuracy" in script


def test_book_script_reads_like_the_book():
    script = keras_script(PRESETS["Book"])
    assert 'layers.Dense(10, activation="sigmoid"),' in script
    assert 'layers.Dense(10, activation="softmax"),' in script
    assert "keras.optimizers.SGD(learning_rate=0.01)" in script
    assert "model.fit(x_train, y_train, batch_size=100, epochs=5)" in script


def test_script_for_fashion_and_bad_dataset():
    script = keras_script(PRESETS["Book"], dataset_name="fashion_mnist")
    assert "keras.datasets.fashion_mnist.load_data()" in script and "FASHION_MNIST_PATH" in script
    with pytest.raises(ValueError, match="dataset_name must be one of"):
        keras_script(PRESETS["Book"], dataset_name="cifar10")
