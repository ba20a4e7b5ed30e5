"""Which off-screen OpenGL platform pyrender should use here, and a plain reason when there is none.

PyOpenGL fixes its platform the first time it is imported, from ``PYOPENGL_PLATFORM``, so the choice has to be
made before that, without PyOpenGL. The probes below use ctypes and repeat the calls pyrender itself makes, up
to a current context, because a cheaper test can disagree with pyrender:

- **EGL**: pyrender opens the first EGL *device* (``eglQueryDevicesEXT`` + ``eglGetPlatformDisplayEXT``), not the
  default display. On a machine without a GPU Mesa offers a software device (surfaceless llvmpipe) that needs no
  window system, while the default display needs X11 or Wayland and fails on a headless server. Probing the
  default display therefore wrongly reported "no EGL" on exactly the machines where pyrender works.
- **OSMesa**: a core 3.3 context made current on a 1x1 buffer, as pyrender's OSMesa platform does.

``PYOPENGL_PLATFORM`` set by the user is respected: egl or osmesa are probed (so a failure comes with a
reason), anything else is trusted. ``python -m intermask.render.gl`` prints what was found and renders a
few frames of two bodies as a check.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from dataclasses import dataclass

from intermask.errors import InterMaskError

HELP = ("On Debian or Ubuntu, apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 (software EGL, "
        "no GPU needed); 'python -m intermask.render.gl' checks the result. Stick figures (--style stick) need "
        "no OpenGL.")

# EGL and OSMesa constants (from the Khronos and Mesa headers).
_EGL_NONE = 0x3038
_EGL_SURFACE_TYPE, _EGL_PBUFFER_BIT = 0x3033, 0x0001
_EGL_RED_SIZE, _EGL_GREEN_SIZE, _EGL_BLUE_SIZE, _EGL_DEPTH_SIZE = 0x3024, 0x3023, 0x3022, 0x3025
_EGL_COLOR_BUFFER_TYPE, _EGL_RGB_BUFFER = 0x303F, 0x308E
_EGL_RENDERABLE_TYPE, _EGL_CONFORMANT, _EGL_OPENGL_BIT = 0x3040, 0x3042, 0x0008
_EGL_OPENGL_API = 0x30A2
_EGL_CONTEXT_MAJOR_VERSION, _EGL_CONTEXT_MINOR_VERSION = 0x3098, 0x30FB
_EGL_CONTEXT_OPENGL_PROFILE_MASK, _EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT = 0x30FD, 0x0001
_EGL_PLATFORM_DEVICE_EXT = 0x313F
_OSMESA_FORMAT, _OSMESA_RGBA, _OSMESA_DEPTH_BITS = 0x22, 0x1908, 0x30
_OSMESA_PROFILE, _OSMESA_CORE_PROFILE = 0x33, 0x34
_OSMESA_CONTEXT_MAJOR_VERSION, _OSMESA_CONTEXT_MINOR_VERSION = 0x36, 0x37
_GL_UNSIGNED_BYTE, _GL_RENDERER = 0x1401, 0x1F01


@dataclass(frozen=True)
class GLStatus:
    """The outcome of the platform choice: ``platform`` is None when mesh rendering is unavailable."""
    platform: str | None
    renderer: str = ""  # GL_RENDERER of the probed context, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
    reason: str = ""  # why nothing works (empty when a platform was found)
    detail: str = ""  # how the platform was found, for people checking their set-up

    @property
    def available(self) -> bool:
        return self.platform is not None

    def describe(self) -> str:
        if not self.available:
            return f"unavailable: {self.reason}"
        renderer = f", renderer {self.renderer}" if self.renderer else ""
        return f"available: {self.platform} ({self.detail}{renderer})"


class _ProbeFailed(Exception):
    pass


def _open_library(name: str) -> ctypes.CDLL:
    """The library PyOpenGL would load for ``name``: it tries libNAME.so, then libNAME.so.9 ... .0."""
    candidates = [f"lib{name}.so"] + [f"lib{name}.so.{i}" for i in range(9, -1, -1)]
    found = ctypes.util.find_library(name)
    if found:
        candidates.insert(0, found)
    for filename in candidates:
        try:
            return ctypes.CDLL(filename)
        except OSError:
            continue
    raise _ProbeFailed(f"no lib{name}.so library was found")


def _attribs(*values: int):
    return (ctypes.c_int32 * (len(values) + 1))(*values, _EGL_NONE)


def _probe_egl() -> tuple[str, str]:
    """(renderer, how) after creating and releasing the context pyrender's EGL platform would create."""
    egl = _open_library("EGL")
    try:
        _open_library("OpenGL")
    except _ProbeFailed:
        try:
            _open_library("GL")  # PyOpenGL takes libGL when libOpenGL is missing
        except _ProbeFailed:
            raise _ProbeFailed("PyOpenGL needs libOpenGL.so.0 or libGL.so.1 next to libEGL "
                               "(apt-get install libopengl0)") from None
    vp, i32, u32 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_uint32
    egl.eglGetProcAddress.restype, egl.eglGetProcAddress.argtypes = vp, [ctypes.c_char_p]
    egl.eglGetError.restype, egl.eglGetError.argtypes = i32, []
    egl.eglInitialize.restype, egl.eglInitialize.argtypes = u32, [vp, ctypes.POINTER(i32), ctypes.POINTER(i32)]
    egl.eglChooseConfig.restype = u32
    egl.eglChooseConfig.argtypes = [vp, ctypes.POINTER(i32), ctypes.POINTER(vp), i32, ctypes.POINTER(i32)]
    egl.eglBindAPI.restype, egl.eglBindAPI.argtypes = u32, [u32]
    egl.eglCreateContext.restype, egl.eglCreateContext.argtypes = vp, [vp, vp, vp, ctypes.POINTER(i32)]
    egl.eglMakeCurrent.restype, egl.eglMakeCurrent.argtypes = u32, [vp, vp, vp, vp]
    egl.eglDestroyContext.restype, egl.eglDestroyContext.argtypes = u32, [vp, vp]
    egl.eglTerminate.restype, egl.eglTerminate.argtypes = u32, [vp]
    egl.eglGetDisplay.restype, egl.eglGetDisplay.argtypes = vp, [vp]

    def failed(what: str) -> _ProbeFailed:
        return _ProbeFailed(f"{what} failed (EGL error 0x{egl.eglGetError() & 0xFFFF:04X})")

    query_address = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
    platform_address = egl.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
    if query_address and platform_address:
        query = ctypes.CFUNCTYPE(u32, i32, ctypes.POINTER(vp), ctypes.POINTER(i32))(query_address)
        get_display = ctypes.CFUNCTYPE(vp, u32, vp, ctypes.POINTER(i32))(platform_address)
        count = i32(0)
        if not query(0, None, ctypes.byref(count)) or count.value < 1:
            raise _ProbeFailed("EGL lists no device (libegl-mesa0 and libgl1-mesa-dri provide a software one)")
        devices = (vp * count.value)()
        if not query(count.value, devices, ctypes.byref(count)) or count.value < 1:
            raise failed("eglQueryDevicesEXT")
        display = get_display(_EGL_PLATFORM_DEVICE_EXT, devices[0], None)
        how = f"EGL device 0 of {count.value}, no window system needed"
    else:  # pyrender falls back to the default display then, with DISPLAY unset
        saved = os.environ.pop("DISPLAY", None)
        try:
            display = egl.eglGetDisplay(None)
        finally:
            if saved is not None:
                os.environ["DISPLAY"] = saved
        how = "EGL default display (this libEGL cannot list devices)"
    if not display:
        raise failed("eglGetDisplay")
    major, minor = i32(), i32()
    if not egl.eglInitialize(display, ctypes.byref(major), ctypes.byref(minor)):
        raise failed("eglInitialize")
    try:
        config, n = vp(), i32(0)
        attribs = _attribs(_EGL_SURFACE_TYPE, _EGL_PBUFFER_BIT, _EGL_BLUE_SIZE, 8, _EGL_RED_SIZE, 8, _EGL_GREEN_SIZE,
                           8, _EGL_DEPTH_SIZE, 24, _EGL_COLOR_BUFFER_TYPE, _EGL_RGB_BUFFER, _EGL_RENDERABLE_TYPE,
                           _EGL_OPENGL_BIT, _EGL_CONFORMANT, _EGL_OPENGL_BIT)
        if not egl.eglChooseConfig(display, attribs, ctypes.byref(config), 1, ctypes.byref(n)) or n.value < 1:
            raise _ProbeFailed("EGL offers no configuration for desktop OpenGL with a depth buffer")
        if not egl.eglBindAPI(_EGL_OPENGL_API):
            raise failed("eglBindAPI(OpenGL)")
        context = egl.eglCreateContext(display, config, None, _attribs(
            _EGL_CONTEXT_MAJOR_VERSION, 4, _EGL_CONTEXT_MINOR_VERSION, 1,
            _EGL_CONTEXT_OPENGL_PROFILE_MASK, _EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT))
        if not context:
            raise failed("eglCreateContext (OpenGL 4.1 core)")
        try:
            if not egl.eglMakeCurrent(display, None, None, context):
                raise failed("eglMakeCurrent without a surface")
            renderer = ""
            address = egl.eglGetProcAddress(b"glGetString")
            if address:
                text = ctypes.CFUNCTYPE(ctypes.c_char_p, u32)(address)(_GL_RENDERER)
                renderer = text.decode(errors="replace") if text else ""
            egl.eglMakeCurrent(display, None, None, None)
        finally:
            egl.eglDestroyContext(display, context)
    finally:
        egl.eglTerminate(display)
    return renderer, f"{how}, EGL {major.value}.{minor.value}"


def _probe_osmesa() -> tuple[str, str]:
    lib = _open_library("OSMesa")
    vp = ctypes.c_void_p
    try:
        create = lib.OSMesaCreateContextAttribs
    except AttributeError:
        raise _ProbeFailed("this libOSMesa cannot create core-profile contexts (too old)") from None
    create.restype, create.argtypes = vp, [ctypes.POINTER(ctypes.c_int32), vp]
    lib.OSMesaMakeCurrent.restype = ctypes.c_uint8
    lib.OSMesaMakeCurrent.argtypes = [vp, vp, ctypes.c_uint32, ctypes.c_int32, ctypes.c_int32]
    lib.OSMesaDestroyContext.restype, lib.OSMesaDestroyContext.argtypes = None, [vp]
    attribs = (ctypes.c_int32 * 11)(_OSMESA_FORMAT, _OSMESA_RGBA, _OSMESA_DEPTH_BITS, 24, _OSMESA_PROFILE,
                                    _OSMESA_CORE_PROFILE, _OSMESA_CONTEXT_MAJOR_VERSION, 3,
                                    _OSMESA_CONTEXT_MINOR_VERSION, 3, 0)
    context = create(attribs, None)
    if not context:
        raise _ProbeFailed("OSMesaCreateContextAttribs (OpenGL 3.3 core) failed")
    try:
        buffer = (ctypes.c_uint8 * 4)()
        if not lib.OSMesaMakeCurrent(context, ctypes.cast(buffer, vp), _GL_UNSIGNED_BYTE, 1, 1):
            raise _ProbeFailed("OSMesaMakeCurrent failed")
        renderer = ""
        get_string = getattr(lib, "glGetString", None)
        if get_string is not None:
            get_string.restype, get_string.argtypes = ctypes.c_char_p, [ctypes.c_uint32]
            text = get_string(_GL_RENDERER)
            renderer = text.decode(errors="replace") if text else ""
    finally:
        lib.OSMesaDestroyContext(context)
    return renderer, "OSMesa, off-screen software rendering"


PROBES = {"egl": _probe_egl, "osmesa": _probe_osmesa}
_lock = threading.Lock()
_status: GLStatus | None = None


def _probe(name: str) -> tuple[str, str]:
    try:
        return PROBES[name]()
    except _ProbeFailed:
        raise
    except (OSError, AttributeError, ValueError, ctypes.ArgumentError) as exc:  # a missing symbol, an odd build
        raise _ProbeFailed(f"{type(exc).__name__}: {exc}") from None


def _choose() -> GLStatus:
    requested = os.environ.get("PYOPENGL_PLATFORM", "").strip()
    if requested:
        if requested not in PROBES:  # glx, wgl, ...: the user knows their set-up better than we do
            return GLStatus(requested, detail="PYOPENGL_PLATFORM as set")
        try:
            renderer, how = _probe(requested)
        except _ProbeFailed as exc:
            return GLStatus(None, reason=f"PYOPENGL_PLATFORM={requested} is set, but {exc}")
        return GLStatus(requested, renderer, detail=f"{how}; PYOPENGL_PLATFORM as set")
    if "OpenGL.platform" in sys.modules:  # PyOpenGL chose its platform already; it cannot change now
        return GLStatus("unknown", detail="PyOpenGL was imported before the platform choice")
    problems = []
    for name in PROBES:  # EGL first: it is faster than OSMesa and is what GPUs offer
        try:
            renderer, how = _probe(name)
        except _ProbeFailed as exc:
            problems.append(f"{'EGL' if name == 'egl' else 'OSMesa'}: {exc}")
            continue
        os.environ["PYOPENGL_PLATFORM"] = name
        return GLStatus(name, renderer, detail=how)
    return GLStatus(None, reason="; ".join(problems))


def gl_status(refresh: bool = False) -> GLStatus:
    """Probe once per process (sets ``PYOPENGL_PLATFORM`` to the platform found) and return the outcome."""
    global _status
    with _lock:
        if _status is None or refresh:
            _status = _choose()
        return _status


def require_gl() -> str:
    """The platform pyrender will use; an InterMaskError with the reason and the fix when there is none."""
    status = gl_status()
    if not status.available:
        raise InterMaskError(f"Body-mesh rendering needs off-screen OpenGL, which is not available here "
                             f"({status.reason}). {HELP}")
    return status.platform


def main() -> int:
    """Print the platform choice, then render four frames of two bodies to show that it really works."""
    import time

    status = gl_status()
    print(f"off-screen OpenGL: {status.describe()}")
    if not status.available:
        print(HELP)
        return 1
    from intermask.render import render_frames
    from intermask.render.sample import sample_interaction
    from intermask.render.scene import PERSON_COLOURS

    start = time.perf_counter()
    frames = list(render_frames(sample_interaction(frames=4), style="mesh", size=128))
    pixels = [int(body_mask(frames[-1], colour).sum()) for colour in PERSON_COLOURS]
    ok = min(pixels) > 0
    print(f"mesh render: {len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]} in "
          f"{time.perf_counter() - start:.1f} s; body pixels {pixels[0]} (A) and {pixels[1]} (B) "
          f"{'- OK' if ok else '- a body is missing'}")
    return 0 if ok else 1


def body_mask(frame, colour, tolerance: float = 0.35):
    """Pixels of an RGB frame with the hue of a body colour (shading changes brightness, not hue); the grey
    floor and background have almost no hue and never count."""
    import numpy as np

    rgb = frame.astype(np.float64) / 255.0
    target = np.asarray(colour, dtype=np.float64)
    chroma = rgb - rgb.mean(-1, keepdims=True)
    want = target - target.mean()
    norm = np.linalg.norm(chroma, axis=-1)
    cosine = (chroma @ want) / np.maximum(norm * np.linalg.norm(want), 1e-9)
    return (cosine > 1 - tolerance) & (norm > 0.05)


if __name__ == "__main__":
    raise SystemExit(main())
