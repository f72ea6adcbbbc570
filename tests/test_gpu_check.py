"""Device placement of the strategies' state, and ``benchmarks/gpu_check.py --dry-run`` as CI runs it.

On a GPU a tensor built from host data, or a CPU tensor moved with ``.to(device)``, is a blocking copy: the host waits
for the device (``torch.cuda.set_sync_debug_mode`` reports it). The per-iteration path must make none, so what a
strategy multiplies by each iteration has to live on the device already: after ``.to(device)``, after a weight update
and after a checkpoint is loaded. Without a GPU the ``meta`` device stands in for it: any host-to-meta copy in the
guarded iterations is the copy a GPU would wait on. ``gpu_check.py`` checks the real thing on a GPU.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
import torch

from alwa_yolo.weighting import WEIGHTINGS, RunningWindow, build_weighting
from helpers import ROOT, run_script

GROUPS = ("reg", "cls", "reg")  # Ultralytics' order: box, cls, dfl
NAMES = ("box_loss", "cls_loss", "dfl_loss")
HYP = [7.5, 0.5, 1.5]


def make(name: str, interval: int = 10):
    return build_weighting(name, GROUPS, interval=interval, term_names=NAMES, term_gains=HYP)


@contextlib.contextmanager
def no_host_to_device_copies(monkeypatch) -> Iterator[None]:
    """Fail on any copy of host data to another device: ``Tensor.to`` from the CPU, ``torch.tensor(device=...)``."""
    real_to, real_tensor = torch.Tensor.to, torch.tensor

    def to(self, *args, **kwargs):
        out = real_to(self, *args, **kwargs)
        if self.device.type == "cpu" and out.device.type != "cpu":
            raise AssertionError(f"host-to-device copy of a {tuple(self.shape)} tensor in the per-iteration path")
        return out

    def tensor(*args, **kwargs):
        device = kwargs.get("device")
        if device is not None and torch.device(device).type != "cpu":
            raise AssertionError("torch.tensor(..., device=...) (a host-to-device copy) in the per-iteration path")
        return real_tensor(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(torch.Tensor, "to", to)
        m.setattr(torch, "tensor", tensor)
        yield


def meta_terms() -> torch.Tensor:
    return torch.empty(3, device="meta")


def on_meta(name: str, interval: int = 10):
    """The strategy moved to the meta device (a learned one built there: a CPU parameter cannot take meta data in
    place, as it takes CUDA data)."""
    if WEIGHTINGS[name].learnable:
        with torch.device("meta"):
            return make(name, interval).to("meta")
    return make(name, interval).to("meta")


@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_iterations_between_reads_copy_nothing_to_the_device(name, monkeypatch):
    """After a warm-up iteration (which builds the per-device group matrix), neither the calibration iterations
    (alwa-cal's first 16) nor the iteration after a weight update copies host data to the device."""
    w = on_meta(name, interval=100)
    w(meta_terms())  # warm-up
    with no_host_to_device_copies(monkeypatch):
        for _ in range(10):
            w(meta_terms())
    w.set_weights(0.5, 1.0)  # what an update at a window's end does
    with no_host_to_device_copies(monkeypatch):
        w(meta_terms())
    assert w.iteration == 12


def test_the_default_tracking_a_replaced_box_loss_copies_nothing_to_the_device(monkeypatch):
    """alwa-ref with L1 reads its reference gains and tracked sums every iteration after calibration: all on the
    device. Calibrated on the CPU (its end is a host read), then moved."""
    w = build_weighting("alwa-ref", GROUPS, interval=100, term_names=NAMES, term_gains=HYP, reference_gains=HYP)
    for i in range(20):
        native = torch.tensor([0.5, 1.0, 1.0], dtype=torch.float64) * torch.tensor(HYP, dtype=torch.float64)
        w.note_native(native)
        w(native * torch.tensor([3.0 - 0.05 * i, 1.0, 1.0], dtype=torch.float64))
    assert not w.calibrating and w.tracked_native is not None
    w.epoch_end()  # the epoch's sums (on the CPU) are read out, as at an epoch's end
    w.to("meta")
    w.note_native(meta_terms())
    w(meta_terms())  # warm-up (the per-device group matrix)
    with no_host_to_device_copies(monkeypatch):
        for _ in range(5):
            w.note_native(meta_terms())
            w(meta_terms())
    assert w.applied.device.type == "meta" and w.tracked_native.device.type == "meta"


@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_a_loaded_checkpoint_stays_on_the_device(name, monkeypatch):
    """A checkpoint is saved on the CPU; loaded into a strategy on the device, its tensors must join the device,
    not be copied over again every iteration (alwa-cal's calibration scale, say)."""
    cpu = make(name)
    for t in range(20):
        cpu(torch.tensor([1.0 + 0.1 * (t % 3), 2.0 + 0.3 * (t % 5), 0.5 + 0.05 * (t % 2)]))
    resumed = on_meta(name)
    resumed.load_state_dict(cpu.state_dict())
    resumed(meta_terms())  # warm-up: a restored open window moves its sums once
    with no_host_to_device_copies(monkeypatch):
        for _ in range(3):
            resumed(meta_terms())
    assert resumed.iteration == 24


def _window_state(dtype: torch.dtype) -> dict:
    return {"count": 3, "sums": torch.tensor([[3.0, 6.0], [5.0, 14.0]], dtype=dtype), "world": 1}


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("device", DEVICES)
def test_a_restored_window_keeps_its_sums_on_another_device_and_dtype(device):
    """A window saved as float32 sums (an MPS run, say) and restored on the CPU keeps its sums when the next value
    arrives as float64 on ``device``: the sums move and widen once, nothing is dropped."""
    window = RunningWindow()
    window.load_state_dict(_window_state(torch.float32))
    window.add(torch.tensor([1.0, 2.0], dtype=torch.float64, device=device))
    assert window.sums.device.type == device and window.sums.dtype == torch.float64
    assert window.count == 4 and window.sums.cpu().tolist() == [[4.0, 8.0], [6.0, 18.0]]
    n, means, stds = window.read()
    assert n == 4 and means == [1.0, 2.0]
    state = window.state_dict()
    assert state["sums"].device.type == "cpu" and torch.equal(state["sums"], torch.tensor([[4.0, 8.0], [6.0, 18.0]]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_cuda_strategy_state_stays_on_the_gpu_after_a_load(name):
    """On a GPU, after ``.to(cuda)``, a checkpoint load and one iteration, every tensor the strategy keeps is there."""
    cpu = make(name)
    for t in range(20):
        cpu(torch.tensor([1.0 + 0.1 * (t % 3), 2.0 + 0.3 * (t % 5), 0.5 + 0.05 * (t % 2)]))
    w = make(name).to("cuda")
    w.load_state_dict(cpu.state_dict())
    w(torch.ones(3, device="cuda"))
    tensors = {k: v for k, v in vars(w).items() if isinstance(v, torch.Tensor)}
    if getattr(w, "window", None) is not None and w.window.sums is not None:
        tensors["window.sums"] = w.window.sums
    assert {k: v.device.type for k, v in tensors.items()} == dict.fromkeys(tensors, "cuda")


# --- under autocast (AMP) --------------------------------------------------------------------------------------------
AUTOCAST = [
    ("cpu", torch.bfloat16),  # Ultralytics' amp="bf16"
    ("cpu", torch.float16),
    pytest.param("cuda", torch.float16, marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
]


@pytest.mark.parametrize(("device", "dtype"), AUTOCAST)
@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_group_losses_keep_their_precision_under_autocast(name, device, dtype):
    """The trainer calls the strategy inside ``autocast``; the group sums the windows and logs read must still be
    the float32 sums, not rounded to half precision (bf16 keeps 8 bits: 4.56 reads as 4.5625, a step as large as a
    window's spread)."""
    terms = torch.tensor([3.2101, 4.5601, 1.2301], device=device)
    plain, mixed = make(name).to(device), make(name).to(device)
    plain(terms)
    with torch.autocast(device, dtype=dtype):
        mixed(terms)
    assert mixed.last_group_losses.dtype == torch.float32
    assert torch.equal(mixed.last_group_losses, plain.last_group_losses)


@pytest.mark.parametrize(("device", "dtype"), AUTOCAST)
def test_uw_log_variance_gradients_stay_finite_under_autocast(device, dtype):
    """Under AMP the loss is scaled (GradScaler starts at 65536) before backward. If the log-variances' path ran in
    half precision, their gradient (scale x batch x L) would overflow fp16 to inf/NaN, and GradScaler would skip the
    step and shrink the scale for the whole model; it must stay float32 and equal the exact gradient."""
    grads = []
    for amp in (False, True):
        w = make("uw").to(device)
        with torch.no_grad():
            w.log_vars.copy_(torch.tensor([0.1234567, -0.3456789]))
        terms = torch.tensor([3.21, 4.56, 1.23], device=device, requires_grad=True)
        with torch.autocast(device, dtype=dtype, enabled=amp):
            loss = w(terms).sum() * 16 * 65536.0  # batch 16, GradScaler's initial scale
        loss.backward()
        grads.append(w.log_vars.grad)
    assert torch.isfinite(grads[1]).all(), grads
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=0)


# --- the GPU check script's dry run ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_gpu_check_dry_run_passes_on_the_cpu(tmp_path):
    """``python benchmarks/gpu_check.py --dry-run``: every check that needs no CUDA, shrunk, passes; the table
    names each check and its result, and ``--out`` writes it as markdown."""
    p = run_script(str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run", "--out", str(tmp_path), timeout=300)
    out = p.stdout
    assert p.returncode == 0, (out + p.stderr)[-4000:]
    assert re.search(r"torch \S+ .*ultralytics \S+", out), out[-2000:]
    rows = re.findall(r"^\| (\S+) +\| (PASS|FAIL|SKIP) +\|", out, flags=re.M)
    names = [n for n, _ in rows]
    expected = ["sync/stock", *(f"sync/{w}" for w in WEIGHTINGS), "amp/alwa-cal", "amp/uw"]
    expected += ["resume/alwa-cal", "resume/uw", "overhead", "ddp/launcher", "ddp/torchrun"]
    assert names == expected, out[-3000:]
    assert [r for n, r in rows if n != "ddp/launcher"] == ["PASS"] * (len(expected) - 1), out[-3000:]
    assert dict(rows)["ddp/launcher"] == "SKIP"  # Ultralytics' launcher needs GPUs
    assert (tmp_path / "gpu_check.md").read_text().count("| PASS ") == len(expected) - 1
