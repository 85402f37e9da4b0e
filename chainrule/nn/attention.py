"""Attention: ``scaled_dot_product_attention`` and the ``MultiheadAttention`` layer (PyTorch's semantics).

Scaled dot-product attention of queries Q (L, d) against keys K (S, d) and
values V (S, d_v)::

    A = softmax(Q K^T / sqrt(d) + M)        (L, S), each row sums to 1
    out = A V                               (L, d_v)

where the additive mask M is 0 where attention is allowed and -inf where it
is not. The softmax subtracts each row's maximum first, so no score
overflows; a row whose every key is masked gets all-zero weights (PyTorch's
``need_weights=True`` path gives NaN there).

Mask conventions follow PyTorch, and they differ between the two entry
points: in ``MultiheadAttention`` a bool ``attn_mask`` or
``key_padding_mask`` is True where attention is NOT allowed; in
``scaled_dot_product_attention`` a bool ``attn_mask`` is True where it IS
allowed. Float masks are added to the scores in both.

The attention is one fused op (``chainrule.ops.attention``) when Q, K and V
share their leading dims and the mask is a constant; otherwise, and in
``MultiheadAttention`` with ``need_weights=True`` (which returns the weights),
it is composed from matmul, softmax and dropout.
"""

from __future__ import annotations

import math
import warnings

from chainrule.backend import array_module, device_of
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.parameter import empty_parameter
from chainrule.ops.attention import attention
from chainrule.ops.dropout import keep_mask
from chainrule.ops.elementwise import to_dtype, where
from chainrule.ops.shape import cat, pad
from chainrule.tensor import Tensor

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear", "scaled_dot_product_attention"]


# --------------------------------------------------------------------------- masks
def _additive_mask(mask: Tensor | None, like: Tensor, name: str, true_means_masked: bool = True) -> Tensor | None:
    """A bool mask as 0 / -inf of ``like``'s dtype (-inf where masked); a float mask as it is (cast to that dtype).

    A mask on another device than ``like`` (a host mask for device queries) is copied to ``like``'s device.
    """
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a Tensor or None, got {type(mask).__name__}")
    dtype = like.dtype
    if mask.device != like.device:
        mask = mask.to(like.device)
    if mask.dtype.kind == "b":
        xp = array_module(mask._data)
        masked = mask._data if true_means_masked else ~mask._data
        return Tensor._wrap(xp.where(masked, -xp.inf, 0.0).astype(dtype))
    if mask.dtype.kind != "f":
        raise TypeError(f"only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask if mask.dtype == dtype else to_dtype(mask, dtype)


def _causal_mask(length: int, source_length: int, dtype, xp) -> Tensor:
    """(L, S) with -inf above the diagonal: position i attends to keys 0..i (top-left aligned)."""
    allowed = xp.tril(xp.ones((length, source_length), dtype=bool))
    return Tensor._wrap(xp.where(allowed, 0.0, -xp.inf).astype(dtype))


def _softmax_with_masked_rows(scores: Tensor, mask: Tensor | None) -> Tensor:
    """softmax over the last dim; rows that the mask removes entirely get zeros instead of NaN."""
    if mask is None:
        return F.softmax(scores, -1)
    xp = array_module(scores._data)
    dead = xp.isneginf(mask._data).all(axis=-1, keepdims=True)
    if not dead.any():
        return F.softmax(scores, -1)
    dead = Tensor._wrap(xp.broadcast_to(dead, scores.shape[:-1] + (1,)))
    return where(dead, 0.0, F.softmax(where(dead, 0.0, scores), -1))


def _attend(query, key, value, mask, dropout_p: float, training: bool, scale: float):
    """(softmax(Q K^T scale + mask) V, the weights) for (..., L, d), (..., S, d), (..., S, d_v)."""
    scores = (query * scale) @ key.transpose(-2, -1)
    if mask is not None:
        scores = scores + mask
    weights = _softmax_with_masked_rows(scores, mask)
    if dropout_p > 0.0 and training:
        weights = F.dropout(weights, dropout_p, True)
    return weights @ value, weights


def _fusable(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, dropout_p: float) -> bool:
    """Whether the fused op applies: Q, K, V with the same leading dims, a constant mask that fits the scores."""
    lead = query.shape[:-2]
    if key.shape[:-2] != lead or value.shape[:-2] != lead or dropout_p >= 1.0:
        return False
    if mask is None:
        return True
    scores_shape = lead + (query.shape[-2], key.shape[-2])
    try:
        fits = array_module(query._data).broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:  # the composed form raises the error that names the shapes
        return False
    return fits and not mask.requires_grad


def _attention_output(query: Tensor, key: Tensor, value: Tensor, mask, dropout_p: float, scale: float) -> Tensor:
    """softmax(Q K^T scale + mask) V, dropped out with ``dropout_p``: one fused op where it applies."""
    if not _fusable(query, key, value, mask, dropout_p):
        return _attend(query, key, value, mask, dropout_p, True, scale)[0]
    keep = None
    if dropout_p > 0.0:
        keep = keep_mask(query.shape[:-1] + (key.shape[-2],), dropout_p, device_of(query._data))
    mask_data = None if mask is None else mask._data
    return attention(query, key, value, mask_data, keep, 1.0 / (1.0 - dropout_p), scale)


def _repeat_heads(x: Tensor, groups: int) -> Tensor:
    """(..., H, S, E) -> (..., H * groups, S, E), each head repeated ``groups`` times in a row (GQA)."""
    expanded = x.unsqueeze(-3).expand(*x.shape[:-2], groups, *x.shape[-2:])
    return expanded.reshape(*x.shape[:-3], x.shape[-3] * groups, *x.shape[-2:])


def _grouped_query_heads(query: Tensor, key: Tensor, value: Tensor):
    """K and V with their heads repeated to match the query's (``enable_gqa=True``)."""
    if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
        return key, value
    heads, key_heads, value_heads = query.shape[-3], key.shape[-3], value.shape[-3]
    if heads % key_heads or heads % value_heads:
        raise RuntimeError(
            f"scaled_dot_product_attention: with enable_gqa=True the query's heads ({heads}) must be a multiple of "
            f"the key's ({key_heads}) and the value's ({value_heads}); shapes {query.shape}, {key.shape}, {value.shape}"
        )
    if key_heads != heads:
        key = _repeat_heads(key, heads // key_heads)
    if value_heads != heads:
        value = _repeat_heads(value, heads // value_heads)
    return key, value


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(Q K^T scale + M) V for Q (..., L, E), K (..., S, E), V (..., S, E_v) -> (..., L, E_v).

    ``attn_mask`` broadcasts against (..., L, S): bool (True = may attend) or
    float (added to the scores). ``is_causal`` masks keys after each query's
    position (and excludes ``attn_mask``). ``scale`` defaults to 1/sqrt(E).
    Dropout, when ``dropout_p`` > 0, is always applied, as in PyTorch.
    ``enable_gqa``: K and V may have fewer heads (dim -3) than Q, each shared
    by a group of query heads (grouped-query attention).
    """
    if enable_gqa:
        key, value = _grouped_query_heads(query, key, value)
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2 or query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query {query.shape}, key {key.shape} and value {value.shape} must be "
            "(..., L, E), (..., S, E) and (..., S, E_v)"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: key {key.shape} and value {value.shape} must have the same length S"
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: is_causal=True and an explicit attn_mask cannot be combined")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    if is_causal:
        mask = _causal_mask(query.shape[-2], key.shape[-2], query.dtype, array_module(query._data))
    else:
        mask = _additive_mask(attn_mask, query, "attn_mask", true_means_masked=False)
    return _attention_output(query, key, value, mask, dropout_p, scale)


# --------------------------------------------------------------------------- the layer
class NonDynamicallyQuantizableLinear(Linear):
    """``Linear`` under the name PyTorch gives MultiheadAttention's output projection."""


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads, each over embed_dim / num_heads features (PyTorch's layer).

        out = concat(head_1, ..., head_h) W_o^T + b_o,
        head_i = softmax((Q W_q,i^T)(K W_k,i^T)^T / sqrt(d) + M) (V W_v,i^T)

    Parameters (PyTorch's names and shapes): ``in_proj_weight`` (3E, E) and
    ``in_proj_bias`` (3E,), the query, key and value projections stacked, or
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight``
    (E, vdim) when kdim or vdim differ from E; ``out_proj`` a Linear(E, E);
    ``bias_k``, ``bias_v`` (1, 1, E) with ``add_bias_kv``.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)``: query
    (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, L, E), ... with
    ``batch_first``; (L, E), ... unbatched). ``key_padding_mask`` (N, S) and
    ``attn_mask`` (L, S) or (N * num_heads, L, S): bool, True where attention
    is not allowed, or float, added to the scores. ``is_causal`` is a hint
    that ``attn_mask`` is the causal mask (which it then requires, as
    PyTorch). Returns ``(attn_output, attn_weights)``: attn_output like the
    query with E features; attn_weights (N, L, S) averaged over heads, or
    (N, num_heads, L, S) with ``average_attn_weights=False``, or None when
    ``need_weights=False``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> attention = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
    >>> x = cr.randn(3, 5, 8)
    >>> out, weights = attention(x, x, x)
    >>> out.shape, weights.shape
    (chainrule.Size([3, 5, 8]), chainrule.Size([3, 5, 5]))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout probability has to be between 0 and 1, but got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter((3 * embed_dim, embed_dim), device, dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty_parameter((embed_dim, embed_dim), device, dtype)
            self.k_proj_weight = empty_parameter((embed_dim, self.kdim), device, dtype)
            self.v_proj_weight = empty_parameter((embed_dim, self.vdim), device, dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter((3 * embed_dim,), device, dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = empty_parameter((1, 1, embed_dim), device, dtype)
            self.bias_v = empty_parameter((1, 1, embed_dim), device, dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases, Xavier-normal ``bias_k``/``bias_v`` (PyTorch's scheme)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    # ------------------------------------------------------------------ checks
    def _check_inputs(self, query, key, value, key_padding_mask, attn_mask) -> bool:
        """Shapes as PyTorch's ``_mha_shape_check``; returns whether the input is batched."""
        name = self._get_name()
        if not all(isinstance(t, Tensor) for t in (query, key, value)):
            raise TypeError(f"{name}: query, key and value must be Tensors")
        if query.ndim not in (2, 3):
            raise ValueError(
                f"{name}: query should be unbatched 2D or batched 3D, got {query.ndim}D of shape {tuple(query.shape)}"
            )
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{name}: for a {query.ndim}-D query {tuple(query.shape)}, key and value must be {query.ndim}-D, "
                f"got {tuple(key.shape)} and {tuple(value.shape)}"
            )
        for tensor, label, size in (
            (query, "query", self.embed_dim),
            (key, "key", self.kdim),
            (value, "value", self.vdim),
        ):
            if tensor.shape[-1] != size:
                raise RuntimeError(
                    f"{name}({self.extra_repr()}): {label} of shape {tuple(tensor.shape)} has {tensor.shape[-1]} features, but the layer "
                    f"expects {size} ({'embed_dim' if label == 'query' else label[0] + 'dim'})"
                )
            if tensor.dtype != self.out_proj.weight.dtype:
                raise RuntimeError(
                    f"{name}: {label} dtype {tensor.dtype} does not match the parameters' {self.out_proj.weight.dtype}"
                )
        seq_dim, batch_dim = (1, 0) if self.batch_first and batched else (0, 1)
        if key.shape[seq_dim] != value.shape[seq_dim] or (batched and key.shape[batch_dim] != value.shape[batch_dim]):
            raise RuntimeError(
                f"{name}: key {tuple(key.shape)} and value {tuple(value.shape)} must agree in sequence and batch dims"
            )
        if batched and query.shape[batch_dim] != key.shape[batch_dim]:
            raise RuntimeError(
                f"{name}: query {tuple(query.shape)} and key {tuple(key.shape)} must have the same batch size"
            )
        if key_padding_mask is not None:
            expected = (key.shape[batch_dim], key.shape[seq_dim]) if batched else (key.shape[0],)
            if tuple(key_padding_mask.shape) != expected:
                raise RuntimeError(
                    f"{name}: key_padding_mask of shape {tuple(key_padding_mask.shape)} should be {expected} "
                    f"for key of shape {tuple(key.shape)}"
                )
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise RuntimeError(f"{name}: attn_mask's dimension {attn_mask.ndim} is not supported (2-D or 3-D)")
        return batched

    # ------------------------------------------------------------------ running it
    def _projections(self, query, key, value):
        """Q, K, V: one matmul when query, key and value are the same tensor, as PyTorch's packed path."""
        embed_dim = self.embed_dim
        bias = self.in_proj_bias
        biases = (
            (None, None, None) if bias is None else (bias[:embed_dim], bias[embed_dim:-embed_dim], bias[-embed_dim:])
        )
        if not self._qkv_same_embed_dim:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
            return tuple(F.linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))
        weight = self.in_proj_weight
        if query is key and key is value:
            packed = F.linear(query, weight, bias)
            return packed[..., :embed_dim], packed[..., embed_dim:-embed_dim], packed[..., -embed_dim:]
        weights = (weight[:embed_dim], weight[embed_dim:-embed_dim], weight[-embed_dim:])
        return tuple(F.linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))

    def _split_heads(self, x: Tensor) -> Tensor:
        """(N, T, E) -> (N, heads, T, head_dim)."""
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ):
        batched = self._check_inputs(query, key, value, key_padding_mask, attn_mask)
        if key_padding_mask is not None and attn_mask is not None and key_padding_mask.dtype != attn_mask.dtype:
            warnings.warn(
                "Support for mismatched key_padding_mask and attn_mask is deprecated. Use same type for both instead.",
                stacklevel=2,
            )
        if is_causal and attn_mask is None:
            raise RuntimeError(
                "MultiheadAttention: need attn_mask if specifying the is_causal hint. You may use "
                "chainrule.nn.transformer.generate_square_subsequent_mask to create this mask."
            )
        # Work batch first: (N, L, E). Same tensors stay the same (the packed projection depends on it).
        if not batched:
            query, key, value = _same_map(lambda t: t.unsqueeze(0), query, key, value)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = _same_map(lambda t: t.transpose(0, 1), query, key, value)
        batch, length, _ = query.shape
        dtype = query.dtype
        q, k, v = self._projections(query, key, value)
        padding = _additive_mask(key_padding_mask, query, "key_padding_mask")
        causal_hint = is_causal and padding is None and not need_weights
        mask = None if causal_hint else _additive_mask(attn_mask, query, "attn_mask")
        mask = self._check_attn_mask(mask, batch, length, key.shape[1])
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(batch, 1, self.embed_dim)], 1)
            v = cat([v, self.bias_v.expand(batch, 1, self.embed_dim)], 1)
            mask, padding = _pad_masks(mask, padding)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        if self.add_zero_attn:
            zeros = Tensor._wrap(array_module(k._data).zeros((batch, self.num_heads, 1, self.head_dim), dtype=dtype))
            k, v = cat([k, zeros], 2), cat([v, zeros], 2)
            mask, padding = _pad_masks(mask, padding)
        source_length = k.shape[2]
        if causal_hint:
            mask = _causal_mask(length, source_length, dtype, array_module(q._data))
        if padding is not None:
            padding = padding.reshape(batch, 1, 1, source_length)
            mask = padding if mask is None else mask + padding
        scale = 1.0 / math.sqrt(self.head_dim)
        if need_weights:
            output, weights = _attend(q, k, v, mask, self.dropout, self.training, scale)
        else:
            output = _attention_output(q, k, v, mask, self.dropout if self.training else 0.0, scale)
        output = self.out_proj(output.transpose(1, 2).reshape(batch, length, self.embed_dim))
        if not batched:
            output = output.squeeze(0)
        elif not self.batch_first:
            output = output.transpose(0, 1)
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = weights.mean(1)
        return output, weights if batched else weights.squeeze(0)

    def _check_attn_mask(self, mask: Tensor | None, batch: int, length: int, source_length: int) -> Tensor | None:
        """(L, S) or (N * heads, L, S) as (1, 1, L, S) or (N, heads, L, S)."""
        if mask is None:
            return None
        if mask.ndim == 2:
            if tuple(mask.shape) != (length, source_length):
                raise RuntimeError(
                    f"{self._get_name()}: the shape of the 2D attn_mask is {tuple(mask.shape)}, "
                    f"but should be {(length, source_length)}"
                )
            return mask.reshape(1, 1, length, source_length)
        expected = (batch * self.num_heads, length, source_length)
        if tuple(mask.shape) != expected:
            raise RuntimeError(
                f"{self._get_name()}: the shape of the 3D attn_mask is {tuple(mask.shape)}, but should be {expected}"
            )
        return mask.reshape(batch, self.num_heads, length, source_length)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _same_map(fn, query, key, value):
    """fn applied to query, key and value, keeping ``query is key`` and ``key is value`` as they were."""
    new_query = fn(query)
    new_key = new_query if key is query else fn(key)
    new_value = new_key if value is key else fn(value)
    return new_query, new_key, new_value


def _pad_masks(mask, padding):
    """One more key (a bias or zero key) that everybody may attend: a zero column on each mask."""
    return (None if mask is None else pad(mask, (0, 1)), None if padding is None else pad(padding, (0, 1)))
