"""Whole networks: torchvision's vgg11 and resnet18 with random weights (no download) converted
to Wino give the original's output within tolerance; state_dict round trip; training under
DistributedDataParallel (gloo, 2 processes) gives the unconverted model's gradients."""
import os

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import wino.torch  # noqa: E402


def relative_error(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize("name,size", [("vgg11", 32), ("resnet18", 64)])
def test_converted_network_matches_the_original(name, size):
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(weights=None, num_classes=10).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want = net.double()(x.double())  # the float64 run is the oracle
        net = net.float()
        plain = net(x)
        keys = list(net.state_dict())
        net, table = wino.torch.convert(net, only_winograd=False)
        got = net(x)
    converted = [r for r in table if r[1] == "converted"]
    assert len(converted) == len(table) > 0, str(table)  # every conv of these networks is eligible
    e_wino, e_torch = relative_error(got, want), relative_error(plain, want)
    print(f"{name}: {len(converted)} convs converted; relative error vs float64: wino {e_wino:.3g}, "
          f"PyTorch fp32 {e_torch:.3g}")
    assert e_wino < 1e-5
    assert list(net.state_dict()) == keys  # the same checkpoints load into either model
    fresh = getattr(torchvision.models, name)(weights=None, num_classes=10)
    fresh.load_state_dict(net.state_dict())


def _ddp_worker(rank, world, port, use_wino, path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(6, 2, 3, padding=1))
    if use_wino:
        net, _ = wino.torch.convert(net)
    model = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(rank)
    for _ in range(3):
        x, target = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 2, 8, 8, generator=g)
        opt.zero_grad()
        F.mse_loss(model(x), target).backward()
        opt.step()
    if rank == 0:
        torch.save([p.grad.clone() for p in model.parameters()], path)
    dist.destroy_process_group()


def test_ddp_trains_with_the_unconverted_models_gradients(tmp_path):
    grads = []
    for use_wino in (True, False):
        path = str(tmp_path / f"grads_{use_wino}.pt")
        mp.start_processes(_ddp_worker, args=(2, 29517 + use_wino, use_wino, path), nprocs=2, join=True,
                           start_method="spawn")
        grads.append(torch.load(path))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
