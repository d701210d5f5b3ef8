// Build a three.js scene from the server's model description (render/web_scene.py) and move its bodies.
//
// MuJoCo's world (z up) is drawn inside `root`, whose transform maps world coordinates into the viewer's
// space (y up, -z forward): the operator stands behind the robot looking along world +x, so world +x is
// -z, world +y is -x and world +z is +y. The same mapping turns hand motion into world motion on the server
// (inputs.py: WORLD_R_XR).
import * as THREE from 'three';

export const XR_FROM_WORLD = new THREE.Matrix4().set(
  0, -1, 0, 0,
  0, 0, 1, 0,
  -1, 0, 0, 0,
  0, 0, 0, 1,
);

function decode(b64, Type) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
}

function geometryFor(geom, meshes) {
  const s = geom.size;
  switch (geom.type) {
    case 'plane': {
      const w = s[0] > 0 ? 2 * s[0] : 20, h = s[1] > 0 ? 2 * s[1] : 20;
      return new THREE.PlaneGeometry(w, h);
    }
    case 'sphere': return new THREE.SphereGeometry(s[0], 24, 16);
    case 'ellipsoid': return new THREE.SphereGeometry(1, 24, 16).scale(s[0], s[1], s[2]);
    case 'capsule': return new THREE.CapsuleGeometry(s[0], 2 * s[1], 6, 16).rotateX(Math.PI / 2);
    case 'cylinder': return new THREE.CylinderGeometry(s[0], s[0], 2 * s[1], 24).rotateX(Math.PI / 2);
    case 'box': return new THREE.BoxGeometry(2 * s[0], 2 * s[1], 2 * s[2]);
    case 'mesh': {
      const mesh = meshes[geom.mesh];
      if (!mesh.geometry) {
        const g = new THREE.BufferGeometry();
        g.setAttribute('position', new THREE.BufferAttribute(decode(mesh.vertices, Float32Array), 3));
        g.setIndex(new THREE.BufferAttribute(decode(mesh.faces, Uint32Array), 1));
        g.computeVertexNormals();
        mesh.geometry = g;
      }
      return mesh.geometry;
    }
    default: return null;
  }
}

function materialFor(geom, textures) {
  const [r, g, b, a] = geom.rgba;
  const params = { color: new THREE.Color(r, g, b) };
  if (a < 1) Object.assign(params, { transparent: true, opacity: a });
  const mat = geom.material;
  if (mat && mat.texture !== undefined) {
    const source = textures[mat.texture];
    if (!source.texture) {
      const texture = new THREE.TextureLoader().load(`data:image/png;base64,${source.png}`);
      texture.wrapS = texture.wrapT = THREE.RepeatWrapping;
      texture.colorSpace = THREE.SRGBColorSpace;
      source.texture = texture;
    }
    const texture = source.texture.clone();
    const [rx, ry] = mat.repeat;
    const scale = mat.uniform && geom.type !== 'mesh' ? [2 * geom.size[0], 2 * geom.size[1]] : [1, 1];
    texture.repeat.set(rx * scale[0], ry * scale[1]);
    texture.needsUpdate = true;
    params.map = texture;
  }
  return new THREE.MeshLambertMaterial(params);
}

// The scene graph for `description`; returns {root, bodies, setPoses(flat)}.
export function buildScene(description) {
  const root = new THREE.Group();
  root.name = 'mujoco-world';
  root.matrixAutoUpdate = false;
  root.matrix.copy(XR_FROM_WORLD);
  const bodies = description.bodies.map((b) => {
    const group = new THREE.Group();
    group.name = b.name;
    root.add(group);
    return group;
  });
  for (const geom of description.geoms) {
    const geometry = geometryFor(geom, description.meshes);
    if (!geometry) continue;
    const mesh = new THREE.Mesh(geometry, materialFor(geom, description.textures));
    mesh.name = geom.name;
    mesh.position.fromArray(geom.pos);
    mesh.quaternion.fromArray(geom.quat);
    bodies[geom.body].add(mesh);
  }
  function setPoses(flat) {
    for (let i = 0; i < bodies.length; i++) {
      const o = 7 * i;
      bodies[i].position.set(flat[o], flat[o + 1], flat[o + 2]);
      bodies[i].quaternion.set(flat[o + 3], flat[o + 4], flat[o + 5], flat[o + 6]);
    }
  }
  return { root, bodies, setPoses };
}

// A translucent marker per arm showing where its end-effector target is (what the input commands).
export function targetMarkers(root, count) {
  const markers = [];
  for (let i = 0; i < count; i++) {
    const group = new THREE.Group();
    const material = new THREE.MeshBasicMaterial({ color: 0x33c3ff, transparent: true, opacity: 0.45, depthWrite: false });
    group.add(new THREE.Mesh(new THREE.SphereGeometry(0.012, 16, 12), material));
    const axis = new THREE.Mesh(new THREE.CylinderGeometry(0.003, 0.003, 0.06, 8).rotateX(Math.PI / 2).translate(0, 0, 0.03), material);
    group.add(axis);
    root.add(group);
    markers.push(group);
  }
  return {
    set(targets, grippers) {
      targets.forEach((t, i) => {
        if (!markers[i]) return;
        markers[i].position.set(t[0], t[1], t[2]);
        markers[i].quaternion.set(t[3], t[4], t[5], t[6]);
        markers[i].children[0].material.color.set(grippers[i] > 0 ? 0xffa033 : 0x33c3ff);
      });
    },
  };
}
