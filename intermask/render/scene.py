"""The pyrender off-screen scene: two skinned bodies on a grid floor, soft lights, a framing camera.

Speed on a CPU (llvmpipe) comes from three choices:
- bodies are uploaded once and later frames only overwrite their vertex buffers (glBufferSubData),
  instead of building a new pyrender mesh per frame;
- a small shader of our own (hemisphere ambient + wrapped diffuse + distance fog) replaces pyrender's PBR
  shader, whose per-vertex matrix inverse and per-pixel light loop dominate a software rasteriser;
- the depth read-back that pyrender always does is skipped.

The OpenGL platform must be chosen before PyOpenGL is first imported; :mod:`intermask.render.gl` does that.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from intermask.errors import InterMaskError
from intermask.render.gl import HELP, require_gl


def choose_platform() -> str:
    """Set (once) and return the PyOpenGL platform pyrender will use; see :mod:`intermask.render.gl`."""
    return require_gl()


def import_pyrender():
    choose_platform()
    try:
        import pyrender
    except Exception as exc:  # noqa: BLE001 - PyOpenGL raises many kinds of errors when no GL loads
        raise InterMaskError(f"pyrender could not load OpenGL ({type(exc).__name__}: {exc}). " + HELP) from exc
    return pyrender


VERTEX_SHADER = """#version 330 core
layout(location = 0) in vec3 position;
#ifdef NORMAL_LOC
layout(location = NORMAL_LOC) in vec3 normal;
#endif
#ifdef TEXCOORD_0_LOC
layout(location = TEXCOORD_0_LOC) in vec2 texcoord_0;
#endif
layout(location = INST_M_LOC) in mat4 inst_m;
uniform mat4 M;
uniform mat4 V;
uniform mat4 P;
out vec3 frag_position;
out vec3 frag_normal;
out vec2 frag_uv;
void main()
{
    mat4 model = M * inst_m;
    vec4 world = model * vec4(position, 1.0);
    gl_Position = P * V * world;
    frag_position = world.xyz;
#ifdef NORMAL_LOC
    frag_normal = mat3(model) * normal;
#else
    frag_normal = vec3(0.0, 1.0, 0.0);
#endif
#ifdef TEXCOORD_0_LOC
    frag_uv = texcoord_0;
#else
    frag_uv = vec2(0.0);
#endif
}
"""

FRAGMENT_SHADER = """#version 330 core
struct Material {
    vec3 emissive_factor;
    vec4 base_color_factor;
};
struct DirectionalLight {
    vec3 direction;
    vec3 color;
    float intensity;
};
struct PointLight {
    vec3 position;
    vec3 color;
    float intensity;
};
uniform Material material;
uniform vec3 ambient_light;
uniform vec3 cam_pos;
uniform int n_directional_lights;
uniform DirectionalLight directional_lights[MAX_DIRECTIONAL_LIGHTS + 1];
uniform int n_point_lights;
uniform PointLight point_lights[MAX_POINT_LIGHTS + 1];
in vec3 frag_position;
in vec3 frag_normal;
in vec2 frag_uv;
out vec4 frag_color;
const vec3 FOG_COLOR = vec3(@FOG_R@, @FOG_G@, @FOG_B@);
void main()
{
    vec3 albedo = pow(material.base_color_factor.rgb, vec3(2.2));
    vec3 n = normalize(frag_normal);
    float occlusion = 1.0;
    if (material.emissive_factor.z < 0.0) {
        // The floor (marked by a negative emissive): a 1 m grid drawn analytically, antialiased with
        // fwidth, and soft contact shadows centred on the "point lights", which are shadow casters here
        // (position = centre on the floor, intensity = radius); they light nothing.
        vec2 c = frag_position.xz;
        vec2 g = abs(fract(c - 0.5) - 0.5) / max(fwidth(c), vec2(1e-4));
        float line = 1.0 - min(min(g.x, g.y) / 1.6, 1.0);
        albedo = mix(albedo, albedo * 0.45, line);
        for (int i = 0; i < n_point_lights; i++) {
            vec2 d = (c - point_lights[i].position.xz) / point_lights[i].intensity;
            occlusion -= 0.5 * exp(-2.5 * dot(d, d));
        }
        n = vec3(0.0, 1.0, 0.0);
    }
    // Hemisphere ambient: brighter from the sky than from the floor.
    vec3 light = ambient_light * (0.55 + 0.45 * n.y);
    for (int i = 0; i < n_directional_lights; i++) {
        float d = dot(n, -directional_lights[i].direction);
        light += directional_lights[i].color * directional_lights[i].intensity * max((d + 0.3) / 1.3, 0.0);
    }
    vec3 color = pow(albedo * light * max(occlusion, 0.0), vec3(1.0 / 2.2));
    float fog = smoothstep(@FOG_NEAR@, @FOG_FAR@, length(frag_position.xz - cam_pos.xz));
    frag_color = vec4(mix(color, FOG_COLOR, fog), 1.0);
}
"""

BACKGROUND = (0.93, 0.94, 0.96)
FLOOR_COLOUR = (0.80, 0.81, 0.83)
PERSON_COLOURS = ((0.86, 0.42, 0.26), (0.25, 0.50, 0.84))  # warm orange (A), blue (B)
PARTNER_COLOUR = (0.62, 0.62, 0.64)  # a given partner (reaction mode), so the generated person stands out


def _write_shaders(fog_near: float, fog_far: float) -> str:
    directory = tempfile.mkdtemp(prefix="intermask-shaders-")
    frag = FRAGMENT_SHADER
    for key, value in (("FOG_R", BACKGROUND[0]), ("FOG_G", BACKGROUND[1]), ("FOG_B", BACKGROUND[2]),
                       ("FOG_NEAR", fog_near), ("FOG_FAR", fog_far)):
        frag = frag.replace(f"@{key}@", f"{float(value):.4f}")
    for name, text in (("mesh.vert", VERTEX_SHADER), ("mesh.frag", frag)):
        with open(os.path.join(directory, name), "w") as fh:
            fh.write(text)
    return directory


class MeshScene:
    """Two skinned bodies in one pyrender scene; call :meth:`update` then :meth:`render` per frame."""

    def __init__(self, rest_vertices: list[np.ndarray], rest_normals: list[np.ndarray], faces: list[np.ndarray],
                 width: int, height: int, yfov: float, floor_y: float, extent: tuple[np.ndarray, np.ndarray],
                 camera_distance: float, colours: tuple | None = None) -> None:
        pyrender = import_pyrender()
        self._pyrender = pyrender
        self.width, self.height = int(width), int(height)
        self.scene = pyrender.Scene(bg_color=np.array([*BACKGROUND, 1.0]), ambient_light=np.array([0.42, 0.43, 0.47]))
        self.primitives = []
        for k, (v, n, f) in enumerate(zip(rest_vertices, rest_normals, faces)):
            colour = (colours or PERSON_COLOURS)[k % 2]
            mat = pyrender.MetallicRoughnessMaterial(baseColorFactor=[*colour, 1.0],
                                                     metallicFactor=0.0, roughnessFactor=0.8)
            prim = pyrender.Primitive(positions=np.asarray(v, np.float32), normals=np.asarray(n, np.float32),
                                      indices=np.asarray(f, np.uint32), material=mat)
            self.scene.add(pyrender.Mesh([prim]))
            self.primitives.append(prim)
        self._add_floor(floor_y, extent)
        self.shadow_nodes = self._add_shadows(len(rest_vertices), floor_y)
        # Key and fill lights are placed relative to the camera at each render (see _place_lights).
        self.light_nodes = [self.scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=i), pose=np.eye(4))
                            for i in (1.7, 0.5)]
        self.camera_node = self.scene.add(
            pyrender.PerspectiveCamera(yfov=yfov, aspectRatio=width / height, znear=0.05,
                                       zfar=camera_distance * 6 + 50.0), pose=np.eye(4))
        try:
            self.renderer = pyrender.OffscreenRenderer(self.width, self.height)
        except Exception as exc:  # noqa: BLE001 - EGL/OSMesa report failures with assorted exception types
            raise InterMaskError(
                f"Off-screen OpenGL failed on platform '{os.environ.get('PYOPENGL_PLATFORM')}' "
                f"({type(exc).__name__}: {exc}). " + HELP) from exc
        from pyrender.shader_program import ShaderProgramCache

        self._shader_dir = _write_shaders(camera_distance * 1.5, camera_distance * 4.0 + 4.0)
        self.renderer._renderer._program_cache = ShaderProgramCache(shader_dir=self._shader_dir)
        self.renderer._renderer._read_main_framebuffer = self._read_color
        self._uploaded = False

    def _add_floor(self, floor_y: float, extent: tuple[np.ndarray, np.ndarray]) -> None:
        pr = self._pyrender
        lo, hi = extent
        centre = np.round(0.5 * (lo + hi))
        half = float(np.ceil(max(hi[0] - lo[0], hi[2] - lo[2]) / 2)) + 25.0
        x0, x1, z0, z1 = centre[0] - half, centre[0] + half, centre[2] - half, centre[2] + half
        pos = np.array([[x0, floor_y, z0], [x0, floor_y, z1], [x1, floor_y, z1], [x1, floor_y, z0]], np.float32)
        # A negative emissive marks the floor for our shader (grid and contact shadows are drawn there).
        mat = pr.MetallicRoughnessMaterial(baseColorFactor=[*FLOOR_COLOUR, 1.0], emissiveFactor=[0.0, 0.0, -1.0],
                                           metallicFactor=0.0, roughnessFactor=1.0)
        prim = pr.Primitive(positions=pos, normals=np.tile([[0.0, 1.0, 0.0]], (4, 1)).astype(np.float32),
                            indices=np.array([[0, 1, 2], [0, 2, 3]], np.uint32), material=mat)
        self.scene.add(pr.Mesh([prim]))

    def _add_shadows(self, count: int, floor_y: float) -> list:
        """Contact-shadow casters: zero-colour point lights that our floor shader reads as blob centres."""
        self._floor_y = floor_y
        return [self.scene.add(self._pyrender.PointLight(color=np.zeros(3), intensity=0.45), pose=np.eye(4))
                for _ in range(count)]

    def _read_color(self, scene, flags):
        """Colour-only replacement for pyrender's read-back (which also converts depth every frame)."""
        from OpenGL import GL

        r = self.renderer._renderer
        w, h = r._main_fb_dims
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, r._main_fb_ms)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, r._main_fb)
        GL.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, r._main_fb)
        buf = GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
        return np.frombuffer(buf, np.uint8).reshape(h, w, 3)[::-1], None

    def update(self, vertices: list[np.ndarray], normals: list[np.ndarray], pelvis: np.ndarray | None = None) -> None:
        """New vertex positions and normals for each body (same vertex count as at construction)."""
        if not self._uploaded:  # buffers exist only after the first render; pyrender uploads then
            for prim, v, n in zip(self.primitives, vertices, normals):
                prim.positions = np.asarray(v, np.float32)
                prim.normals = np.asarray(n, np.float32)
        else:
            from OpenGL import GL

            self.renderer._platform.make_current()
            for prim, v, n in zip(self.primitives, vertices, normals):
                data = np.empty((v.shape[0], 6), np.float32)
                data[:, :3] = v
                data[:, 3:] = n
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, prim._buffers[0])
                GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, data.nbytes, data)
        if pelvis is not None:
            for node, p in zip(self.shadow_nodes, pelvis):
                height = max(float(p[1]) - self._floor_y, 0.0)
                node.light.intensity = 0.45 * (1.0 + 0.5 * min(height, 1.5))  # blob radius grows with height
                pose = np.eye(4)
                pose[:3, 3] = [p[0], self._floor_y, p[2]]
                self.scene.set_pose(node, pose)

    def _place_lights(self, camera_pose: np.ndarray) -> None:
        # Key light from above, over the camera's left shoulder; a weak fill from the right.
        for node, direction in zip(self.light_nodes, ((-0.45, -1.0, -0.6), (0.8, -0.35, -0.3))):
            d = camera_pose[:3, :3] @ np.asarray(direction, dtype=np.float64)
            d[1] = -abs(d[1])
            d /= np.linalg.norm(d)
            z = -d
            x = np.cross([0.0, 1.0, 0.0], z)
            x /= max(np.linalg.norm(x), 1e-9)
            pose = np.eye(4)
            pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, np.cross(z, x), z
            self.scene.set_pose(node, pose)

    def render(self, camera_pose: np.ndarray) -> np.ndarray:
        self.scene.set_pose(self.camera_node, camera_pose)
        self._place_lights(camera_pose)
        color, _ = self.renderer.render(self.scene)
        self._uploaded = True
        return np.ascontiguousarray(color)

    def close(self) -> None:
        renderer = getattr(self, "renderer", None)
        if renderer is not None:
            renderer.delete()
            self.renderer = None
        import shutil

        shutil.rmtree(getattr(self, "_shader_dir", ""), ignore_errors=True)

    def __enter__(self) -> "MeshScene":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
