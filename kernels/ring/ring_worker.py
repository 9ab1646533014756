"""One rank of a ring run, started by ring_launcher.py (never by hand):

    python ring_worker.py RUN_DIR/config.json RANK

It joins the process group (rank 0 hosts the TCP store on a free port and publishes the port
in RUN_DIR/store_port; gloo on the CPU, NCCL on CUDA with GPU RANK), then for every job of the
config (a case, a ring variant, a producer name): reads its own rows of the case, runs the ring
TTT attention forward and backward (grad_out zeroed on invalid rows, as a training loss mask
does), and gathers out, lse, dq, dk_m, dv_m on rank 0, which records them as
CASE/outputs/<producer>.h5 (written under a temporary name and renamed: never half a record).

Exit 0 when every job ran; 2 on any failure, with the message in RUN_DIR/rank<RANK>.err (JSON:
message, time). SIGTERM ends it (the launcher's watchdog); so does the launcher's death.
"""
import ctypes
import datetime
import json
import math
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def _die_with_parent():
    """Linux: SIGKILL this process when the launcher dies (no orphaned ranks)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _write_error(run_dir, rank, message):
    path = os.path.join(run_dir, f"rank{rank}.err")
    with open(path + ".tmp", "w") as f:
        json.dump({"rank": rank, "time": time.time(), "message": message}, f)
    os.replace(path + ".tmp", path)


def _fault_hook(rank):
    """Test hook: ATTN_RING_TEST_FAIL=RANK:PHASE:MODE makes rank RANK fail after ring step 0 of
    PHASE (forward or backward): MODE raise (an exception), kill (SIGKILL itself) or hang."""
    spec = os.environ.get("ATTN_RING_TEST_FAIL", "")
    if not spec:
        return None
    want_rank, phase, mode = spec.split(":")
    if int(want_rank) != rank:
        return None

    def hook(at_phase, step):
        if at_phase != phase or step != 0:
            return
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "hang":
            time.sleep(1e6)
        raise RuntimeError(f"injected failure (ATTN_RING_TEST_FAIL={spec}) in the {phase} after ring step 0")
    return hook


def _store(config, rank, timeout):
    import torch.distributed as dist
    port_file = os.path.join(config["run_dir"], "store_port")
    if rank == 0:
        store = dist.TCPStore("127.0.0.1", 0, config["world"], True, timeout=timeout,
                              wait_for_workers=False)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(store.port))
        os.replace(port_file + ".tmp", port_file)
        return store
    deadline = time.monotonic() + timeout.total_seconds()
    while not os.path.exists(port_file):
        if time.monotonic() > deadline:
            raise RuntimeError(f"rank 0 did not publish its store port within {timeout.total_seconds():.0f} s")
        time.sleep(0.02)
    with open(port_file) as f:
        port = int(f.read())
    return dist.TCPStore("127.0.0.1", port, config["world"], False, timeout=timeout)


def _pad_rows(x, rows):
    """x [B, N, n, D] zero-padded to [B, N, rows, D]."""
    import torch
    n = x.shape[2]
    if n == rows:
        return x
    pad = torch.zeros(x.shape[0], x.shape[1], rows - n, x.shape[3], dtype=x.dtype, device=x.device)
    return torch.cat([x, pad], dim=2)


def run_job(job, config, ring, device, kernel_name, hook):
    """Runs one (case, variant) on this rank; rank 0 records it. Returns rank 0's line."""
    import torch
    import ring_variants
    from attn_harness.case import read_inputs, record_outputs
    from chunk_kernels import make_kernel
    from ring_attention import ring_ttt_attention, valid_rows

    case, variant = job["case"], ring_variants.find(job["variant"])
    P, r = ring.size, ring.rank
    with_meta = read_inputs(case, device, rows=(0, 0))
    L, t = with_meta["L"], with_meta["t"]
    C = math.ceil(L / P)
    row0 = min(r * C, L)
    inputs = read_inputs(case, device, rows=(row0, min(L, row0 + C)))
    q = _pad_rows(inputs["q"], C).requires_grad_(True)
    ks = [_pad_rows(k, C).requires_grad_(True) for k in inputs["k"]]
    vs = [_pad_rows(v, C).requires_grad_(True) for v in inputs["v"]]
    valid_len = inputs["valid_len"]
    valid = valid_rows(valid_len, t, r * C, C, device)
    g = torch.where(valid[:, None, :, None], _pad_rows(inputs["grad_out"], C),
                    torch.zeros((), dtype=q.dtype, device=device))
    kernel = make_kernel(kernel_name, device, q.dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    sync()
    start = time.perf_counter()
    out, lse = ring_ttt_attention(q, ks, vs, valid_len, inputs["scale"], kernel=kernel,
                                  defect=variant.defect, step_hook=hook)
    sync()
    forward_s = time.perf_counter() - start
    start = time.perf_counter()
    grads = torch.autograd.grad([out], [q] + ks + vs, [g])
    sync()
    backward_s = time.perf_counter() - start

    times = torch.tensor([forward_s, backward_s], dtype=torch.float64, device=device)
    full = [ring.gather_rows(x.detach()) for x in [out, lse] + list(grads)]
    all_times = ring.gather_rows(times.view(1, 2), dim=0)
    if r != 0:
        return None
    full = [x.narrow(2, 0, L).cpu() for x in full]
    out_f, lse_f, dq_f = full[:3]
    dks, dvs = full[3:3 + t + 1], full[3 + t + 1:]
    slowest = all_times.max(dim=0).values.tolist()
    prov = dict(
        backend=variant.name, function="ring_ttt_attention",
        source="kernels/ring/ring_attention.py:ring_ttt_attention",
        variant=(f"world={P} ({config['pg_backend']}); block0={kernel.name} per chunk; "
                 f"chunks of {C} rows" + (f" (L padded to {C * P})" if C * P != L else "")),
        world_size=P, process_group_backend=config["pg_backend"], block0_kernel=kernel.name,
        chunk_rows=C, padded_length=C * P,
        device="cpu" if device.type == "cpu" else f"cuda:{device.index}",
        device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        forward_seconds=f"{slowest[0]:.4f}", backward_seconds=f"{slowest[1]:.4f}",
        time=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if variant.defect:
        prov["defect"] = variant.summary
    if config.get("commit"):
        prov["commit"] = config["commit"]
    record_outputs(case, job["producer"], out_f, lse_f, dq_f, dks, dvs, invalid_rows="zeros", **prov)
    where = os.path.join(case, "outputs", job["producer"] + ".h5")
    return (f"{job['producer']} ({config['device']}, world {P}, {config['pg_backend']}): recorded as "
            f"{where} (forward {slowest[0] * 1e3:.1f} ms, backward {slowest[1] * 1e3:.1f} ms, slowest rank)")


def main(argv):
    _die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config_path, rank = argv[1], int(argv[2])
    with open(config_path) as f:
        config = json.load(f)
    sys.path[:0] = [HERE, config["python_package"]]
    try:
        import torch
        import torch.distributed as dist
        from ring_comm import Ring
        timeout = datetime.timedelta(seconds=config["timeout_s"])
        torch.set_num_threads(config["threads"])
        if config["device"] == "cuda":
            device = torch.device("cuda", rank)
            torch.cuda.set_device(device)
        else:
            device = torch.device("cpu")
        store = _store(config, rank, timeout)
        dist.init_process_group(config["pg_backend"], store=store, rank=rank,
                                world_size=config["world"], timeout=timeout)
        ring = Ring()
        hook = _fault_hook(rank)
        for job in config["jobs"]:
            line = run_job(job, config, ring, device, config["block0"], hook)
            if line and not config["quiet"]:
                print(line, flush=True)
        dist.destroy_process_group()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 (every failure becomes a message for the launcher)
        # Written before this process closes its connections (at exit): the peers' "connection
        # closed" errors come later, so the launcher names this rank as the first to fail.
        # No destroy_process_group here: it could wait for peers that will never answer.
        if type(e).__name__ == "InputError":  # the case itself: its message says it all
            message = str(e)
        else:
            frames = traceback.format_exception(type(e), e, e.__traceback__)
            message = f"{type(e).__name__}: {e}\n" + "".join(frames[-8:])
        _write_error(config["run_dir"], rank, message)
        sys.exit(2)
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv)
