"""wino with PyTorch: tensors in and out, the wino::conv2d op (opcheck, torch.compile, autograd),
the drop-in Conv2d and convert(model)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import wino  # noqa: E402
import wino.torch  # noqa: E402
from conftest import reference_conv2d, rel_err  # noqa: E402


def tensors(seed=0, n=2, c=5, h=11, w=9, k=6):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, h, w, generator=g), torch.randn(k, c, 3, 3, generator=g),
            torch.randn(k, generator=g))


def test_torch_in_torch_out_matches_the_reference():
    x, w, b = tensors()
    y = wino.conv2d(x, w, b, padding=1)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (2, 6, 11, 9)
    assert rel_err(y.numpy(), reference_conv2d(x.numpy(), w.numpy(), b.numpy(), padding=(1, 1))) < 1e-5


EDGES = [  # (N, C, H, W, K, R, padding, stride, dilation, groups, activation)
    (1, 1, 5, 5, 1, 3, 1, 1, 1, 1, None),     # C = K = 1, an image smaller than alpha
    (2, 3, 13, 7, 5, 3, 0, 1, 1, 1, "relu"),  # padding 0, odd sizes, batch 2
    (1, 6, 9, 11, 7, 3, 2, 1, 1, 1, "silu"),  # padding 2
    (1, 4, 10, 10, 4, 5, 2, 1, 1, 1, None),   # 5x5
    (1, 8, 12, 12, 8, 3, 1, 2, 1, 2, None),   # stride 2, groups (direct)
    (1, 3, 11, 11, 4, 3, 2, 1, 2, 1, None),   # dilation 2 (direct)
    (1, 3, 8, 8, 4, 1, 0, 1, 1, 1, "relu6"),  # 1x1
    (1, 70, 12, 12, 66, 3, 1, 1, 1, 1, None), # several K and C blocks
]


@pytest.mark.parametrize("n,c,h,w,k,r,pad,stride,dil,groups,act", EDGES)
def test_matches_torch_in_float64_over_the_edges(n, c, h, w, k, r, pad, stride, dil, groups, act):
    g = torch.Generator().manual_seed(n * 1000 + c * 10 + k)
    x, wt = torch.randn(n, c, h, w, generator=g), torch.randn(k, c // groups, r, r, generator=g)
    b = torch.randn(k, generator=g)
    y = wino.conv2d(x, wt, b, stride, pad, dil, groups, activation=act)
    z = F.conv2d(x.double(), wt.double(), b.double(), stride, pad, dil, groups)
    ref = {None: z, "relu": F.relu(z), "relu6": F.relu6(z), "silu": F.silu(z)}[act]
    assert rel_err(y.numpy(), ref.numpy()) < 1e-5


@pytest.mark.parametrize("dtype,tol", [(torch.float16, 1e-3), (torch.bfloat16, 8e-3)])
def test_half_tensors_round_the_output_only(dtype, tol):
    x, w, b = (t.to(dtype) for t in tensors())
    y = wino.conv2d(x, w, b, padding=1, activation="relu")
    assert y.dtype == dtype
    ref = F.relu(F.conv2d(x.double(), w.double(), b.double(), padding=1))  # on the same rounded inputs
    assert rel_err(y.double().numpy(), ref.numpy()) < tol


def test_channels_last_runs_channels_last_and_strided_inputs_are_converted():
    x, w, b = tensors()
    ref = reference_conv2d(x.numpy(), w.numpy(), b.numpy(), padding=(1, 1))
    for plan in ("auto", "direct", "fused"):
        z = torch.randn(2, 6, 11, 9).to(memory_format=torch.channels_last)
        y = wino.conv2d(x.to(memory_format=torch.channels_last), w, b, padding=1, plan=plan, residual=z)
        assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()  # NHWC kernels
        assert rel_err(y.numpy(), ref + z.numpy()) < 1e-5, plan
    conv = wino.compile(w, b, input_shape=tuple(x.shape), padding=1, layout="nhwc")
    assert rel_err(conv(x.to(memory_format=torch.channels_last)).numpy(), ref) < 1e-5
    assert rel_err(conv(x).numpy(), ref) < 1e-5  # an NCHW input is converted
    wide = torch.zeros(2, 5, 11, 18)
    wide[..., ::2] = x
    assert rel_err(wino.conv2d(wide[..., ::2], w, b, padding=1).numpy(), ref) < 1e-5


@pytest.mark.parametrize("make,error,match", [
    (lambda x, w: wino.conv2d(x.double(), w.double()), TypeError, "float64"),
    (lambda x, w: wino.conv2d(x.int(), w), TypeError, "int32"),
    (lambda x, w: wino.conv2d(x, w.numpy()), TypeError, "both be NumPy arrays or both be torch"),
    (lambda x, w: wino.conv2d(x, w.half()), TypeError, "weight has dtype float16"),
    (lambda x, w: wino.conv2d(x, w.requires_grad_()), ValueError, "requires grad"),
    (lambda x, w: wino.conv2d(x, w, device="cuda:0"), ValueError, "CUDA tensors"),
    (lambda x, w: wino.torch.Conv2d(nn.Conv2d(5, 6, 3, padding_mode="reflect")), ValueError, "padding_mode"),
])
def test_bad_input_raises_a_clear_error(make, error, match):
    x, w, _ = tensors()
    with pytest.raises(error, match=match):
        make(x, w)


def test_op_passes_opcheck():
    x, w, b = tensors(n=1, c=3, h=6, w=6, k=4)
    torch.library.opcheck(torch.ops.wino.conv2d.default, (x, w, b, 1, [1, 1], 1, 1, "relu", "auto"))
    torch.library.opcheck(torch.ops.wino.conv2d.default,  # channels last in, channels last out
                          (x.to(memory_format=torch.channels_last), w, b, 1, [1, 1], 1, 1, "none", "auto"))
    torch.library.opcheck(torch.ops.wino.conv2d.default,
                          (x.requires_grad_(), w.requires_grad_(), b.requires_grad_(), 1, [1, 1], 1, 1, "none", "auto"))


def test_op_runs_under_torch_compile_without_graph_breaks():
    x, w, b = tensors()

    def f(x):
        return torch.relu(wino.torch.conv2d(x, w, b, padding=1)) * 2

    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    assert rel_err(compiled(x).numpy(), 2 * np.maximum(reference_conv2d(x.numpy(), w.numpy(), b.numpy(),
                                                                        padding=(1, 1)), 0)) < 1e-5


@pytest.mark.parametrize("activation", [None, "relu", "silu"])
def test_gradients_equal_pytorchs(activation):
    x, w, b = tensors(seed=3)
    act = {None: lambda t: t, "relu": F.relu, "silu": F.silu}[activation]
    grads = []
    for use_wino in (True, False):
        xs, ws, bs = (t.clone().requires_grad_() for t in (x, w, b))
        y = wino.torch.conv2d(xs, ws, bs, padding=1, activation=activation) if use_wino else \
            act(F.conv2d(xs, ws, bs, padding=1))
        (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        grads.append([t.grad for t in (xs, ws, bs)])
    for got, want in zip(*grads):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4)


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(8, 4, 1), nn.Conv2d(4, 4, 3, padding=(1, 1), padding_mode="circular"))


def test_converted_module_shares_parameters_and_tracks_weight_changes():
    net = small_net().eval()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        want = net(x)
    keys = list(net.state_dict())
    net, table = wino.torch.convert(net)
    assert list(net.state_dict()) == keys
    assert isinstance(net[0], wino.torch.Conv2d) and isinstance(net[6], nn.Conv2d)
    assert [r[1] for r in table] == ["converted", "converted", "kept", "kept"]
    assert "Winograd does not apply (kernel 1x1)" in str(table) and "padding_mode 'circular'" in str(table)
    with torch.no_grad():
        assert torch.allclose(net(x), want, rtol=1e-4, atol=1e-4)
        net[0].weight.mul_(2)  # an in-place change is seen (version counter)
        with pytest.raises(AssertionError):
            assert torch.allclose(net(x), want, rtol=1e-4, atol=1e-4)


def test_only_winograd_false_converts_1x1_and_strided_convs_too():
    net = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 4, 3, stride=2, padding=1)).eval()
    x = torch.randn(2, 3, 11, 11)
    with torch.no_grad():
        want = net(x)
        net, table = wino.torch.convert(net, only_winograd=False)
        assert [r[1] for r in table] == ["converted", "converted"]
        assert torch.allclose(net(x), want, rtol=1e-4, atol=1e-4)


def test_folding_batchnorm_and_relu_into_the_epilogue():
    net = small_net().eval()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        want = net(x)
        net, table = wino.torch.convert(net, fold=True, filter=lambda name, conv: name != "5")
        assert isinstance(net[1], nn.Identity) and isinstance(net[2], nn.Identity) and net[0].activation == "relu"
        assert ("5", "kept", "excluded by filter") in table
        assert torch.allclose(net(x), want, rtol=1e-4, atol=1e-4)


def test_a_converted_model_trains_like_the_original():
    steps = []
    for use_wino in (True, False):
        net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 2, 3, padding=1))
        torch.manual_seed(1)
        for p in net.parameters():
            nn.init.normal_(p, std=0.3)
        if use_wino:
            net, _ = wino.torch.convert(net)
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        x, target = torch.randn(4, 3, 10, 10), torch.randn(4, 2, 10, 10)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = F.mse_loss(net(x), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        steps.append(losses)
    assert np.allclose(steps[0], steps[1], rtol=1e-4), steps


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (scripts/gpu_python.sh runs these)")


@cuda
def test_cuda_tensors_run_on_the_current_stream_without_copies():
    x, w, b = (t.cuda() for t in tensors())
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        y = wino.conv2d(x, w, b, padding=1)
    stream.synchronize()
    assert y.is_cuda and y.dtype == torch.float32
    ref = F.conv2d(x.double(), w.double(), b.double(), padding=1)
    assert rel_err(y.double().cpu().numpy(), ref.cpu().numpy()) < 1e-5
    conv = wino.compile(w, b, input_shape=tuple(x.shape), padding=1)
    conv(x)
    assert conv.report()["host_copies"] == 0 and conv.report()["device"].startswith("cuda")


@cuda
def test_cuda_model_converts_and_trains():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1)).cuda()
    x = torch.randn(2, 3, 16, 16, device="cuda")
    with torch.no_grad():
        want = net(x)
    net, _ = wino.torch.convert(net)
    with torch.no_grad():
        assert torch.allclose(net(x), want, rtol=1e-4, atol=1e-4)
    net(x).square().mean().backward()
    assert net[0].weight.grad is not None and net[0].weight.grad.is_cuda



@cuda
@pytest.mark.parametrize("n,c,h,w,k,r,pad,stride,dil,groups,act", EDGES)
def test_cuda_matches_torch_in_float64_over_the_edges(n, c, h, w, k, r, pad, stride, dil, groups, act):
    g = torch.Generator().manual_seed(n * 1000 + c * 10 + k)
    x, wt = torch.randn(n, c, h, w, generator=g), torch.randn(k, c // groups, r, r, generator=g)
    b = torch.randn(k, generator=g)
    y = wino.conv2d(x.cuda(), wt.cuda(), b.cuda(), stride, pad, dil, groups, activation=act)
    assert y.is_cuda
    z = F.conv2d(x.double(), wt.double(), b.double(), stride, pad, dil, groups)
    ref = {None: z, "relu": F.relu(z), "relu6": F.relu6(z), "silu": F.silu(z)}[act]
    assert rel_err(y.cpu().numpy(), ref.numpy()) < 1e-5


@cuda
@pytest.mark.parametrize("dtype,tol", [(torch.float16, 1e-3), (torch.bfloat16, 8e-3)])
def test_cuda_half_tensors(dtype, tol):
    x, w, b = (t.to(dtype).cuda() for t in tensors())
    y = wino.conv2d(x, w, b, padding=1)
    assert y.dtype == dtype and y.is_cuda
    yl = wino.conv2d(x.to(memory_format=torch.channels_last), w, b, padding=1)  # AMP's channels_last
    assert yl.is_contiguous(memory_format=torch.channels_last) and torch.allclose(yl.float(), y.float(), rtol=1e-3, atol=1e-3)
    ref = F.conv2d(x.double(), w.double(), b.double(), padding=1)
    assert rel_err(y.double().cpu().numpy(), ref.cpu().numpy()) < tol


@cuda
def test_cuda_op_under_torch_compile_and_opcheck():
    x, w, b = (t.cuda() for t in tensors())
    fn = torch.compile(lambda x: wino.torch.conv2d(x, w, b, padding=1, activation="relu"), fullgraph=True)
    assert rel_err(fn(x).cpu().numpy(), F.relu(F.conv2d(x, w, b, padding=1)).cpu().numpy()) < 1e-5
    torch.library.opcheck(torch.ops.wino.conv2d.default, (x, w, b, 1, [1, 1], 1, 1, "relu", "auto"))


def test_precision_is_a_floor_the_cpu_meets_in_fp32():
    x, w, b = tensors()
    conv = wino.compile(w, b, input_shape=tuple(x.shape), padding=1, precision="tf32")
    assert conv.report()["precision"] == "fp32"  # no tensor cores: a higher precision than asked
    assert rel_err(conv(x).numpy(), F.conv2d(x.double(), w.double(), b.double(), padding=1).numpy()) < 1e-5
    with pytest.raises(ValueError, match="expected fp32, 3xtf32, tf32, fp16 or bf16"):
        wino.conv2d(x, w, b, padding=1, precision="fp8")


@cuda
@pytest.mark.parametrize("precision,tol", [("3xtf32", 1e-5), ("tf32", 6e-3), ("fp16", 6e-3), ("bf16", 5e-2)])
def test_cuda_tensor_core_precisions(precision, tol):
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(4, 64, 20, 20, generator=g), torch.randn(96, 64, 3, 3, generator=g)
    net = wino.torch.Conv2d(nn.Conv2d(64, 96, 3, padding=1, bias=False), precision=precision, plan="unfused").cuda()
    with torch.no_grad():
        net.weight.copy_(w)
        y = net(x.cuda())
    assert rel_err(y.double().cpu().numpy(), F.conv2d(x.double(), w.double(), padding=1).numpy()) < tol
