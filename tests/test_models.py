"""The notes' models: what each computes, and that each learns what it should on small synthetic data."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import models
from chainrule.data import DataLoader, datasets
from chainrule.nn import functional as F
from chainrule.optim.lr_scheduler import OneCycleLR
from chainrule.training import evaluate, fit


def _accuracy(model, data):
    return evaluate(model, DataLoader(data, batch_size=len(data)))["accuracy"]


def _binary_ce(output, target):
    return F.binary_cross_entropy_with_logits(output, target.float())


def test_linear_regression_training_recovers_the_closed_form():
    cr.manual_seed(0)
    data = datasets.linear_regression(n=256, d=3, noise=0.1, seed=0)
    weight, bias = models.LinearRegression.closed_form(*data.tensors)
    np.testing.assert_allclose(weight.numpy(), data.weight.numpy(), atol=0.05)  # close to the truth
    model = models.LinearRegression(3)
    loader = DataLoader(data, batch_size=256)  # full batch: gradient descent on the least-squares loss
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    fit(model, loader, 300, optimizer=optimizer, loss_fn=cr.nn.MSELoss(), progress="none")
    np.testing.assert_allclose(model.linear.weight.detach().numpy(), weight.numpy(), atol=1e-4)
    np.testing.assert_allclose(model.linear.bias.detach().numpy(), bias.numpy(), atol=1e-4)


def test_closed_form_ridge_shrinks_the_weights_but_not_the_bias():
    X = np.random.default_rng(0).standard_normal((50, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 10.0
    weight, bias = models.LinearRegression.closed_form(X, y)
    np.testing.assert_allclose(weight.numpy(), [[1.0, -2.0, 0.5, 3.0]], atol=1e-10)
    np.testing.assert_allclose(bias.numpy(), [10.0], atol=1e-10)
    ridge_weight, ridge_bias = models.LinearRegression.closed_form(X, y, ridge=100.0)
    assert np.linalg.norm(ridge_weight.numpy()) < 0.8 * np.linalg.norm(weight.numpy())
    expected = np.linalg.solve(
        np.c_[X, np.ones(50)].T @ np.c_[X, np.ones(50)] + np.diag([100.0] * 4 + [0.0]), np.c_[X, np.ones(50)].T @ y
    )
    np.testing.assert_allclose(np.r_[ridge_weight.numpy()[0], ridge_bias.numpy()], expected, rtol=1e-10)


def test_mlp_learns_spirals_where_logistic_regression_cannot():
    train, test = datasets.spirals(n=600, seed=0), datasets.spirals(n=600, seed=1)
    cr.manual_seed(0)
    mlp = models.MLP([2, 64, 64, 2])
    loader = DataLoader(train, batch_size=50, shuffle=True, seed=0)
    optimizer = cr.optim.Adam(mlp.parameters(), lr=0.02)
    schedule = OneCycleLR(optimizer, max_lr=0.02, total_steps=80 * len(loader))
    fit(mlp, loader, 80, optimizer=optimizer, scheduler=schedule, scheduler_interval="batch", progress="none")
    assert _accuracy(mlp, test) >= 0.95

    logistic = models.LogisticRegression(2)
    optimizer = cr.optim.Adam(logistic.parameters(), lr=0.05)
    fit(logistic, loader, 30, optimizer=optimizer, loss_fn=_binary_ce, progress="none")
    assert _accuracy(logistic, train) <= 0.66  # a line cannot follow the arms
    assert _accuracy(logistic, test) <= 0.66


@pytest.mark.parametrize(
    "d, hidden, layers, classes", [(784, 200, 2, 10), (2, 16, 1, 2), (10, 7, 4, 3), (100 * 100, 300, 10, 1000)]
)
def test_mlp_parameter_count_is_the_notes_formula(d, hidden, layers, classes):
    expected = d * hidden + (layers - 1) * hidden**2 + hidden * classes + layers * hidden + classes
    assert models.mlp_parameter_count(d, hidden, layers, classes) == expected
    sizes = [d, *[hidden] * layers, classes]
    assert models.MLP.count_parameters(sizes) == expected
    if d * hidden < 10**6:  # build only the small ones
        assert models.MLP(sizes).num_parameters() == expected
        assert models.MLP(sizes, bias=False).num_parameters() == models.mlp_parameter_count(
            d, hidden, layers, classes, bias=False
        )


def test_mlp_layers_and_activations():
    model = models.MLP([4, 8, 6, 3], activation=["tanh", "sigmoid"], dropout=0.5)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Sigmoid", "Dropout", "Linear"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    assert isinstance(model[:2], cr.nn.Sequential)
    assert model(cr.randn(5, 4)).shape == (5, 3)
    with pytest.raises(ValueError, match="unknown activation"):
        models.MLP([2, 3, 1], activation="swishy")
    with pytest.raises(ValueError, match="activations given"):
        models.MLP([2, 3, 1], activation=["relu", "relu"])


@pytest.mark.parametrize("activation, pooling", [("relu", "max"), ("tanh", "avg")])
def test_lenet5_shapes(activation, pooling):
    model = models.LeNet5(activation=activation, pooling=pooling)
    assert model(cr.randn(2, 1, 28, 28)).shape == (2, 10)
    assert model(cr.randn(3, 784)).shape == (3, 10)  # flat rows are reshaped to images
    assert model.classifier[1].in_features == 16 * 5 * 5
    weights = [p.shape for name, p in model.named_parameters() if name.endswith("weight")]
    assert weights == [(6, 1, 5, 5), (16, 6, 5, 5), (120, 400), (84, 120), (10, 84)]
    assert models.LeNet5(input_size=32, padding=0)(cr.randn(1, 1, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="too small"):
        models.LeNet5(input_size=8)


def test_perceptron_separates_separable_data_with_the_perceptron_criterion():
    rng = np.random.default_rng(0)
    points = np.r_[rng.normal(-2, 0.5, (50, 2)), rng.normal(2, 0.5, (50, 2))].astype(np.float32)
    labels = np.r_[np.zeros(50), np.ones(50)].astype(np.int64)
    data = cr.data.TensorDataset(cr.tensor(points), cr.tensor(labels))
    cr.manual_seed(0)
    model = models.Perceptron(2)
    optimizer = cr.optim.SGD(model.parameters(), lr=1.0)
    fit(model, DataLoader(data, batch_size=10, shuffle=True, seed=0), 5, optimizer=optimizer,
        loss_fn=models.perceptron_criterion, progress="none")  # fmt: skip
    assert _accuracy(model, data) == 1.0
    signs = model.predict(cr.tensor(points)).numpy()
    assert set(np.unique(signs)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(signs, labels * 2 - 1)


def test_perceptron_criterion_is_zero_on_correct_and_linear_on_mistakes():
    scores = cr.tensor([2.0, -1.0, 0.5, -3.0], requires_grad=True)
    loss = models.perceptron_criterion(scores, cr.tensor([1, 0, 0, 1]))  # the last two are mistakes
    assert loss.item() == pytest.approx((0.5 + 3.0) / 4)
    loss.backward()
    np.testing.assert_allclose(scores.grad.numpy(), [0, 0, 0.25, -0.25])
    same = models.perceptron_criterion(scores.detach(), cr.tensor([1, -1, -1, 1]))  # -1/+1 labels
    assert same.item() == pytest.approx(loss.item())


def test_random_fourier_features_are_fixed_and_learn_circles():
    cr.manual_seed(0)
    model = models.RandomFourierFeatures(2, features=300, gamma=10.0, classes=2)
    assert [name for name, _ in model.named_parameters()] == ["classifier.weight", "classifier.bias"]
    assert {"omega", "phase"} <= set(model.state_dict())
    x = cr.randn(5, 2)
    # z(x) . z(y) approximates the RBF kernel exp(-gamma |x - y|^2)
    z = model.features(x).numpy()
    kernel = np.exp(-10.0 * ((x.numpy()[:, None] - x.numpy()[None]) ** 2).sum(-1))
    assert np.abs(z @ z.T - kernel).max() < 0.3
    train, test = datasets.circles(n=400, noise=0.05, seed=0), datasets.circles(n=400, noise=0.05, seed=1)
    optimizer = cr.optim.Adam(model.parameters(), lr=0.05)
    omega = model.omega.numpy().copy()
    fit(model, DataLoader(train, batch_size=50, shuffle=True, seed=0), 20, optimizer=optimizer, progress="none")
    np.testing.assert_array_equal(model.omega.numpy(), omega)
    assert _accuracy(model, test) >= 0.95


def test_softmax_and_logistic_regression_outputs():
    x = cr.randn(6, 5)
    softmax = models.SoftmaxRegression(5, 3)
    assert softmax(x).shape == (6, 3)
    assert softmax.predict(x).tolist() == softmax(x).argmax(dim=1).tolist()
    logistic = models.LogisticRegression(5)
    assert logistic(x).shape == (6,)
    probabilities = logistic.predict_proba(x).detach().numpy()
    np.testing.assert_array_equal(logistic.predict(x).numpy(), (probabilities > 0.5).astype(np.int64))


def test_registry_builds_by_name_and_alias():
    assert set(models.available()) >= {"mlp", "lenet5", "softmax-regression", "logistic-regression", "perceptron"}
    mlp = models.build("MLP", in_features=784, classes=10, hidden=[200, 200])
    assert mlp.num_parameters() == models.mlp_parameter_count(784, 200, 2, 10)
    assert isinstance(models.build("linear", in_features=4, classes=3), models.SoftmaxRegression)
    assert isinstance(models.build("lenet_5", in_features=784, classes=10), models.LeNet5)
    assert isinstance(models.build("random-fourier-features", in_features=2, classes=2), models.RandomFourierFeatures)
    with pytest.raises(KeyError, match="choose one of"):
        models.build("resnet", in_features=1, classes=1)
    with pytest.raises(ValueError, match="binary"):
        models.build("perceptron", in_features=2, classes=3)
