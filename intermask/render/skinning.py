"""Vectorised linear blend skinning of a fitted body over many frames at once.

Each vertex's blended 3×4 transform is one sparse matrix product (V×J weights × J×12 per frame), so a
whole chunk of frames costs one scipy call plus one einsum; normals use the blended linear part, which is
what GPU skinning does too (the shader renormalises).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from intermask.render.body import vertex_normals
from intermask.render.posing import FittedBody


class Skinner:
    def __init__(self, fitted: FittedBody) -> None:
        body = fitted.body
        V, K = body.skin_indices.shape
        rows = np.repeat(np.arange(V), K)
        self.weights = sp.csr_matrix(
            (body.skin_weights.reshape(-1).astype(np.float32), (rows, body.skin_indices.reshape(-1))),
            shape=(V, body.num_joints))
        self.fitted = fitted
        self.rest = fitted.vertices.astype(np.float32)
        self.rest_normals = vertex_normals(self.rest, body.faces)
        self.faces = body.faces

    @property
    def num_frames(self) -> int:
        return self.fitted.num_frames

    def joint_matrices(self, start: int, stop: int) -> np.ndarray:
        """(n, J, 3, 4) transforms taking bind-pose points to posed points."""
        R = self.fitted.rotations[start:stop].astype(np.float32)
        t = self.fitted.positions[start:stop].astype(np.float32)
        b = self.fitted.bind.astype(np.float32)
        A = np.empty(R.shape[:2] + (3, 4), np.float32)
        A[..., :3] = R
        A[..., 3] = t - np.einsum("njab,jb->nja", R, b)
        return A

    def vertices(self, start: int, stop: int, normals: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Posed vertices (n, V, 3) and (optionally) normals for frames [start, stop)."""
        A = self.joint_matrices(start, stop)
        n, J = A.shape[:2]
        # (V, J) @ (J, n*12) → (V, n, 3, 4)
        M = (self.weights @ A.transpose(1, 0, 2, 3).reshape(J, n * 12)).reshape(-1, n, 3, 4)
        verts = np.einsum("vnab,vb->nva", M[..., :3], self.rest) + M[..., 3].transpose(1, 0, 2)
        if not normals:
            return verts, None
        nrm = np.einsum("vnab,vb->nva", M[..., :3], self.rest_normals)
        return verts, nrm

    def lowest_point(self, stride: int = 7) -> float:
        """Lowest mesh height over the clip, from every ``stride``-th vertex (cheap floor estimate)."""
        sub = Skinner.__new__(Skinner)
        sub.fitted = self.fitted
        sub.weights = self.weights[::stride]
        sub.rest = self.rest[::stride]
        sub.rest_normals = self.rest_normals[::stride]
        lo = np.inf
        for s in range(0, self.num_frames, 64):
            v, _ = sub.vertices(s, min(s + 64, self.num_frames), normals=False)
            lo = min(lo, float(v[..., 1].min()))
        return lo
