"""Tiny PyTorch models behind hp's fixtures (see make_fixtures.py).

They copy the module structure of the real models hp is meant for (BERT,
ResNet, GPT-2, T5) at toy sizes, so the exported node names and module
hierarchies look like the real thing while each .onnx stays far below 1 MB.
"""

import math

import torch
import torch.nn as nn


# --- (a) BERT-like encoder ------------------------------------------------------

class BertEmbeddings(nn.Module):
    def __init__(self, vocab, hidden, max_positions):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.LayerNorm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(0.1)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.head_size = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def split_heads(self, x):
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, hidden_states, mask):
        q = self.split_heads(self.query(hidden_states))
        k = self.split_heads(self.key(hidden_states))
        v = self.split_heads(self.value(hidden_states))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + mask
        context = torch.softmax(scores, dim=-1) @ v
        batch, _, seq, _ = context.shape
        return context.permute(0, 2, 1, 3).reshape(batch, seq, self.heads * self.head_size)


class BertSelfOutput(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.self = BertSelfAttention(hidden, heads)
        self.output = BertSelfOutput(hidden)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.dense = nn.Linear(hidden, intermediate)
        self.intermediate_act_fn = nn.GELU()

    def forward(self, x):
        return self.intermediate_act_fn(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.dense = nn.Linear(intermediate, hidden)
        self.LayerNorm = nn.LayerNorm(hidden)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertLayer(nn.Module):
    def __init__(self, hidden, heads, intermediate):
        super().__init__()
        self.attention = BertAttention(hidden, heads)
        self.intermediate = BertIntermediate(hidden, intermediate)
        self.output = BertOutput(hidden, intermediate)

    def forward(self, x, mask):
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, layers, hidden, heads, intermediate):
        super().__init__()
        self.layer = nn.ModuleList(
            [BertLayer(hidden, heads, intermediate) for _ in range(layers)])

    def forward(self, x, mask):
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.Tanh()

    def forward(self, x):
        return self.activation(self.dense(x[:, 0]))


class TinyBertModel(nn.Module):
    def __init__(self, vocab=50, hidden=32, heads=2, intermediate=64, layers=2, max_positions=16):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, hidden, max_positions)
        self.encoder = BertEncoder(layers, hidden, heads, intermediate)
        self.pooler = BertPooler(hidden)

    def forward(self, input_ids, attention_mask):
        # Mask arithmetic in the root's own forward: these ops have no
        # submodule scope and get the root tag.
        mask = attention_mask.unsqueeze(1).unsqueeze(2).to(torch.float32)
        mask = (1.0 - mask) * -10000.0
        x = self.encoder(self.embeddings(input_ids), mask)
        return x, self.pooler(x)


# --- (b) ResNet-like CNN --------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)  # called twice, as in torchvision
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TinyResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        downsample = nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2, downsample), BasicBlock(16, 16))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- (c) GPT-like decoder with a module called twice and a tied LM head ---------

class RotaryEmbedding(nn.Module):
    """Rotates pairs of channels by position; applied to queries AND keys, so
    one module instance runs twice per attention call."""

    def __init__(self, head_size, max_positions):
        super().__init__()
        inv_freq = 1.0 / (10000 ** (torch.arange(0, head_size, 2).float() / head_size))
        angles = torch.outer(torch.arange(max_positions).float(), inv_freq)
        self.register_buffer("cos", torch.cat([angles.cos(), angles.cos()], -1), persistent=False)
        self.register_buffer("sin", torch.cat([angles.sin(), angles.sin()], -1), persistent=False)

    def forward(self, x):
        seq = x.shape[-2]
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * self.cos[:seq] + rotated * self.sin[:seq]


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden, heads, max_positions):
        super().__init__()
        self.heads = heads
        self.head_size = hidden // heads
        self.c_attn = nn.Linear(hidden, 3 * hidden)
        self.c_proj = nn.Linear(hidden, hidden)
        self.rotary = RotaryEmbedding(self.head_size, max_positions)
        causal = torch.tril(torch.ones(max_positions, max_positions, dtype=torch.bool))
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(self, x):
        batch, seq, hidden = x.shape
        q, k, v = self.c_attn(x).split(hidden, dim=2)
        q, k, v = (t.view(batch, seq, self.heads, self.head_size).transpose(1, 2) for t in (q, k, v))
        q, k = self.rotary(q), self.rotary(k)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size)
        scores = scores.masked_fill(~self.causal_mask[:seq, :seq], float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(batch, seq, hidden))


class GPTMLP(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.c_fc = nn.Linear(hidden, 4 * hidden)
        self.act = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * hidden, hidden)

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class GPTBlock(nn.Module):
    def __init__(self, hidden, heads, max_positions):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden)
        self.attn = CausalSelfAttention(hidden, heads, max_positions)
        self.ln_2 = nn.LayerNorm(hidden)
        self.mlp = GPTMLP(hidden)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TinyGPTModel(nn.Module):
    def __init__(self, vocab=50, hidden=32, heads=2, layers=2, max_positions=16):
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(max_positions, hidden)
        self.h = nn.ModuleList([GPTBlock(hidden, heads, max_positions) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as in GPT-2

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


# --- (d) T5-like encoder-decoder: encoder and decoder share one class -----------

class T5LayerNorm(nn.Module):
    """RMS norm without mean subtraction, as in T5."""

    def __init__(self, hidden, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


class T5Attention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.head_size = hidden // heads
        self.q = nn.Linear(hidden, hidden, bias=False)
        self.k = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, hidden, bias=False)
        self.o = nn.Linear(hidden, hidden, bias=False)

    def forward(self, x, kv=None):
        kv = x if kv is None else kv
        batch, seq, hidden = x.shape

        def shape(t):
            return t.view(batch, -1, self.heads, self.head_size).transpose(1, 2)

        scores = shape(self.q(x)) @ shape(self.k(kv)).transpose(-1, -2)
        y = torch.softmax(scores, dim=-1) @ shape(self.v(kv))
        return self.o(y.transpose(1, 2).reshape(batch, seq, hidden))


class T5LayerSelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.SelfAttention = T5Attention(hidden, heads)
        self.layer_norm = T5LayerNorm(hidden)

    def forward(self, x):
        return x + self.SelfAttention(self.layer_norm(x))


class T5LayerCrossAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.EncDecAttention = T5Attention(hidden, heads)
        self.layer_norm = T5LayerNorm(hidden)

    def forward(self, x, encoder_states):
        return x + self.EncDecAttention(self.layer_norm(x), encoder_states)


class T5DenseActDense(nn.Module):
    def __init__(self, hidden, ff):
        super().__init__()
        self.wi = nn.Linear(hidden, ff, bias=False)
        self.wo = nn.Linear(ff, hidden, bias=False)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.wo(self.act(self.wi(x)))


class T5LayerFF(nn.Module):
    def __init__(self, hidden, ff):
        super().__init__()
        self.DenseReluDense = T5DenseActDense(hidden, ff)
        self.layer_norm = T5LayerNorm(hidden)

    def forward(self, x):
        return x + self.DenseReluDense(self.layer_norm(x))


class T5Block(nn.Module):
    def __init__(self, hidden, heads, ff, is_decoder):
        super().__init__()
        self.is_decoder = is_decoder
        layers = [T5LayerSelfAttention(hidden, heads)]
        if is_decoder:
            layers.append(T5LayerCrossAttention(hidden, heads))
        layers.append(T5LayerFF(hidden, ff))
        self.layer = nn.ModuleList(layers)

    def forward(self, x, encoder_states=None):
        x = self.layer[0](x)
        if self.is_decoder:
            x = self.layer[1](x, encoder_states)
        return self.layer[-1](x)


class T5Stack(nn.Module):
    def __init__(self, hidden, heads, ff, blocks, is_decoder):
        super().__init__()
        self.block = nn.ModuleList(
            [T5Block(hidden, heads, ff, is_decoder) for _ in range(blocks)])
        self.final_layer_norm = T5LayerNorm(hidden)

    def forward(self, x, encoder_states=None):
        for block in self.block:
            x = block(x, encoder_states)
        return self.final_layer_norm(x)


class TinyT5Model(nn.Module):
    def __init__(self, vocab=50, hidden=32, heads=2, ff=64, blocks=2):
        super().__init__()
        self.shared = nn.Embedding(vocab, hidden)
        self.encoder = T5Stack(hidden, heads, ff, blocks, is_decoder=False)
        self.decoder = T5Stack(hidden, heads, ff, blocks, is_decoder=True)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, input_ids, decoder_input_ids):
        # The shared embedding runs in the root's forward (not inside the
        # stacks), so every embedding op has exactly one enclosing module.
        encoder_states = self.encoder(self.shared(input_ids))
        x = self.decoder(self.shared(decoder_input_ids), encoder_states)
        return self.lm_head(x)


# --- (e) data-dependent control flow: ONNX If and Loop --------------------------

@torch.jit.script
def refine(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Scripted, so its `if` and `for` become ONNX If and Loop. Scripted code
    carries no module scope in torch 1.13, so it is called from the root's own
    forward, where "no scope" (root tag) is also the truth."""
    if bool(x.sum() > 0):
        y = x * 0.5
    else:
        y = -x
    for _ in range(steps):
        y = torch.tanh(y + x)
    return y


class TokenBag(nn.Module):
    """nn.EmbeddingBag with offsets exports as a Loop (opset >= 11) whose body
    nodes carry this module's scope."""

    def __init__(self, vocab, hidden):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab, hidden, mode="mean")
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, ids, offsets):
        return self.proj(self.embed(ids, offsets))


class DiagonalGate(nn.Module):
    """torch.diagonal with an offset exports as an If (opset >= 13) guarding
    against an empty diagonal."""

    def __init__(self, hidden):
        super().__init__()
        self.gate = nn.Linear(hidden, hidden)

    def forward(self, x):
        square = self.gate(x) @ x.transpose(0, 1)
        return torch.diagonal(square, offset=1)


class ControlFlowModel(nn.Module):
    def __init__(self, vocab=50, hidden=16):
        super().__init__()
        self.bag = TokenBag(vocab, hidden)
        self.diag = DiagonalGate(hidden)
        self.head = nn.Linear(hidden, 4)

    def forward(self, ids, offsets, x):
        bags = self.bag(ids, offsets)
        scale = self.diag(x).sum()
        return self.head(refine(bags * scale, 2))


# --- (f, g) small MLP that the crafted fixtures start from -----------------------

class MLPBlock(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(hidden, 2 * hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(2 * hidden, hidden)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


class TinyMLP(nn.Module):
    def __init__(self, hidden=16, blocks=2, classes=4):
        super().__init__()
        self.blocks = nn.ModuleList([MLPBlock(hidden) for _ in range(blocks)])
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        x = x * 0.5  # an op in the root's own forward
        for block in self.blocks:
            x = block(x)
        return self.head(x)


# --- (h) modules reached through containers that never run -----------------------

class Head(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.proj = nn.Linear(hidden, hidden)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.proj(x))


class Squash(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))

    def forward(self, x):
        return torch.tanh(x * self.weight)


class ContainersModel(nn.Module):
    """Modules called through containers whose own forward never runs, so
    torch's scope names leave the container out: `heads["left"]` is
    `/left/...` (nn.ModuleDict), `towers["x"][1]` is `/x.1/...` (an
    nn.ModuleList in an nn.ModuleDict), `block.block` is `/block/...` (a bare
    nn.Module used as a namespace). Each is called twice."""

    def __init__(self, hidden=8):
        super().__init__()
        self.heads = nn.ModuleDict({"left": Head(hidden), "right": Head(hidden)})
        self.blocks = nn.ModuleList([Head(hidden) for _ in range(4)])
        self.towers = nn.ModuleDict({"x": nn.ModuleList([Head(hidden), Head(hidden)])})
        self.block = nn.Module()
        self.block.block = Squash(hidden)

    def forward(self, x):
        x = self.heads["left"](x) + self.heads["right"](x)
        x = self.heads["left"](x)
        x = self.blocks[1](self.blocks[3](x))
        x = self.blocks[3](x)
        x = self.towers["x"][1](self.towers["x"][1](x))
        return self.block.block(self.block.block(x))


# --- (i) re-calls whose scope names collide with real module names ---------------

class Gate(nn.Module):
    """Scales its input when given a scale; without one it returns its input
    and leaves no node."""

    def forward(self, x, scale=None):
        return x if scale is None else x * scale


class Act(nn.Module):
    """A leaky ReLU of the model's own code, so that its tag shows which
    instance ran a node; it makes several nodes, Relu twice."""

    def forward(self, x):
        return torch.relu(x) - 0.1 * torch.relu(-x)


class Residual(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x):
        return x + self.norm(self.fc(x))


class RecallsModel(nn.Module):
    """`relu` runs twice, so torch names its second call `relu_1`, the name of
    the real sibling `relu_1`; `block` (with submodules) runs twice; `gate`'s
    first call leaves no node, so torch does not count it; `drop` (Dropout,
    eval mode) never leaves a node."""

    def __init__(self, hidden=8):
        super().__init__()
        self.relu = Act()
        self.relu_1 = Act()
        self.block = Residual(hidden)
        self.gate = Gate()
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        x = self.relu_1(self.relu(x))
        x = self.relu(x)
        x = self.gate(self.drop(x))
        x = self.block(self.block(x))
        x = self.gate(self.drop(x), 0.5)
        return self.gate(x, 2.0)
