"""Every name of the contract's Tensors and Autograd sections exists, as a function and as a method."""

from __future__ import annotations

import pytest

import chainrule as cr

FUNCTIONS = """
tensor from_numpy zeros ones full empty zeros_like ones_like full_like arange linspace eye rand randn randint
rand_like randn_like manual_seed cat stack where maximum minimum einsum no_grad enable_grad is_grad_enabled
exp log log1p expm1 sqrt rsqrt abs sign sin cos tanh sigmoid relu clamp pow reciprocal floor ceil round
sum mean var std max min amax amin argmax argmin logsumexp prod norm
reshape flatten unflatten squeeze unsqueeze transpose permute broadcast_to split chunk flip gather scatter_add
index_select masked_fill tril triu matmul mm bmm outer dot
float32 float64 int64 int32 bool
""".split()

METHODS = """
numpy item tolist detach clone to float double long requires_grad_ zero_ backward size numel
exp log log1p expm1 sqrt rsqrt abs sign sin cos tanh sigmoid relu clamp pow reciprocal floor ceil round
sum mean var std max min amax amin argmax argmin logsumexp prod norm
reshape view flatten unflatten squeeze unsqueeze transpose permute expand broadcast_to repeat split chunk flip
gather scatter_add index_select masked_fill tril triu matmul mm bmm outer dot
__add__ __sub__ __mul__ __truediv__ __floordiv__ __pow__ __matmul__ __neg__ __eq__ __ne__ __lt__ __le__
__gt__ __ge__ __getitem__ __setitem__ __array__ __repr__
__radd__ __rsub__ __rmul__ __rtruediv__ __rpow__ __rmatmul__
""".split()

ATTRIBUTES = "shape dtype device ndim requires_grad grad grad_fn is_leaf T data".split()

AUTOGRAD = "grad Function gradcheck gradgradcheck detect_anomaly backward".split()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_exists(name):
    assert hasattr(cr, name), f"cr.{name} is missing"


@pytest.mark.parametrize("name", METHODS)
def test_method_exists(name):
    assert callable(getattr(cr.Tensor, name, None)), f"Tensor.{name} is missing"


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_attribute_exists(name):
    x = cr.ones(2, 2)
    getattr(x, name)


@pytest.mark.parametrize("name", AUTOGRAD)
def test_autograd_name_exists(name):
    assert hasattr(cr.autograd, name)


def test_pad_is_in_nn_functional():
    assert callable(cr.nn.functional.pad)


OPTIM = "SGD Adam AdamW RMSprop Adagrad".split()
SCHEDULERS = "StepLR MultiStepLR ExponentialLR CosineAnnealingLR LambdaLR OneCycleLR InverseTimeLR".split()


@pytest.mark.parametrize("name", OPTIM)
def test_optimizer_exists(name):
    assert hasattr(cr.optim, name)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_exists(name):
    assert hasattr(cr.optim.lr_scheduler, name)


NN = """
Module Parameter Sequential ModuleList ModuleDict Linear Bilinear Identity Flatten Conv1d Conv2d ConvTranspose2d
MaxPool1d MaxPool2d AvgPool2d AdaptiveAvgPool2d BatchNorm1d BatchNorm2d LayerNorm GroupNorm Dropout Embedding
RNN LSTM GRU MultiheadAttention TransformerEncoderLayer Residual
ReLU LeakyReLU ELU GELU SiLU Sigmoid Tanh Softplus Softmax LogSoftmax Step Sign
MSELoss L1Loss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss HuberLoss HingeEmbeddingLoss MultiMarginLoss
""".split()
INIT = "uniform_ normal_ zeros_ ones_ constant_ xavier_uniform_ xavier_normal_ kaiming_uniform_ kaiming_normal_".split()
UTILS = "clip_grad_norm_ clip_grad_value_ parameters_to_vector".split()
FUNCTIONAL = "relu softmax log_softmax cross_entropy nll_loss mse_loss l1_loss binary_cross_entropy binary_cross_entropy_with_logits conv2d max_pool2d pad".split()
DATA = "Dataset TensorDataset DataLoader random_split".split()
DATASETS = "mnist digits spirals xor circles moons linear_regression".split()


@pytest.mark.parametrize("name", NN)
def test_nn_name_exists(name):
    assert hasattr(cr.nn, name)


@pytest.mark.parametrize("name", INIT)
def test_init_exists(name):
    assert callable(getattr(cr.nn.init, name))


@pytest.mark.parametrize("name", UTILS)
def test_utils_exists(name):
    assert callable(getattr(cr.nn.utils, name))


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_exists(name):
    assert callable(getattr(cr.nn.functional, name))


@pytest.mark.parametrize("name", DATA)
def test_data_exists(name):
    assert hasattr(cr.data, name)


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_exists(name):
    assert callable(getattr(cr.data.datasets, name))


# "What PyTorch programs use around the model", "distributed" and "onnx".
AROUND_THE_MODEL = {
    "chainrule.utils.data": "Dataset TensorDataset DataLoader Subset random_split Sampler SequentialSampler "
    "RandomSampler BatchSampler",
    "chainrule.utils.data.distributed": "DistributedSampler",
    "chainrule": "Generator multinomial randperm bernoulli topk sort argsort cumsum cumprod roll narrow tril_indices "
    "histc LongTensor FloatTensor BoolTensor Size device",
    "chainrule.optim": "Adadelta Adamax NAdam RAdam LBFGS",
    "chainrule.optim.lr_scheduler": "ReduceLROnPlateau LinearLR CosineAnnealingWarmRestarts SequentialLR",
    "chainrule.nn": "Dropout1d Dropout2d Transformer TransformerDecoderLayer TransformerDecoder LSTMCell GRUCell "
    "RNNCell Upsample PixelShuffle ConvTranspose1d AdaptiveMaxPool2d Unflatten CosineSimilarity",
    "chainrule.nn.functional": "scaled_dot_product_attention one_hot interpolate",
    "chainrule.cuda": "is_available manual_seed manual_seed_all",
    "chainrule.accelerator": "is_available current_accelerator",
    "chainrule.distributed": "init_process_group is_initialized get_rank get_world_size barrier all_reduce "
    "broadcast all_gather destroy_process_group ReduceOp",
    "chainrule.nn.parallel": "DistributedDataParallel",
    "chainrule.onnx": "export load",
}
TENSOR_METHODS_AROUND_THE_MODEL = (
    "nelement type new_zeros new_ones new_full new_empty new_tensor retain_grad contiguous is_contiguous "
    "add_ mul_ sub_ div_ clamp_ relu_ zero_ fill_ multinomial topk sort argsort cumsum cumprod roll narrow"
).split()


@pytest.mark.parametrize(
    "module, name", [(module, name) for module, names in AROUND_THE_MODEL.items() for name in names.split()]
)
def test_names_programs_use_around_the_model_exist(module, name):
    import importlib

    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is missing"


@pytest.mark.parametrize("name", TENSOR_METHODS_AROUND_THE_MODEL)
def test_tensor_methods_programs_use_exist(name):
    assert callable(getattr(cr.Tensor, name, None)), f"Tensor.{name} is missing"


def test_modules_reached_as_attributes_after_import_chainrule():
    # PyTorch programs write torch.utils.data..., torch.distributed..., torch.nn.parallel... after `import torch`.
    assert cr.utils.data.DataLoader is cr.data.DataLoader
    assert cr.distributed.get_world_size is not None and cr.nn.parallel.DistributedDataParallel is not None
    assert isinstance(cr.zeros(2, 3).shape, cr.Size) and cr.zeros(2, 3).size() == cr.Size([2, 3])
