"""Communication of the ring: one rotation step (every rank sends to its successor and receives
from its predecessor) and gathering per-rank chunks on rank 0. Works on any torch.distributed
process group (gloo on the CPU, NCCL on CUDA); ranks are those of `group`.
"""
import torch
import torch.distributed as dist


class Ring:
    """This process's place in the ring of `group` (None: the default group)."""

    def __init__(self, group=None):
        self.group = group
        self.rank = dist.get_rank(group)
        self.size = dist.get_world_size(group)
        self._next = self._global((self.rank + 1) % self.size)
        self._prev = self._global((self.rank - 1) % self.size)

    def _global(self, group_rank):
        return group_rank if self.group is None else dist.get_global_rank(self.group, group_rank)

    def rotate(self, tensors):
        """Sends `tensors` to the next rank and returns the ones the previous rank sent (same
        shapes and dtypes, new tensors). All ranks must call it together. A world of 1 returns
        the tensors themselves."""
        if self.size == 1:
            return list(tensors)
        sent = [x.contiguous() for x in tensors]
        received = [torch.empty_like(x) for x in sent]
        ops = [dist.P2POp(dist.isend, x, self._next, self.group) for x in sent]
        ops += [dist.P2POp(dist.irecv, y, self._prev, self.group) for y in received]
        for request in dist.batch_isend_irecv(ops):
            request.wait()
        return received

    def gather_rows(self, x, dim=2):
        """The per-rank tensors `x` (equal shapes) concatenated along `dim` in rank order, on
        rank 0 (None elsewhere)."""
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(self.size)] if self.rank == 0 else None
        dist.gather(x, parts, dst=self._global(0), group=self.group)
        return torch.cat(parts, dim=dim) if self.rank == 0 else None
