// Hand shapes for the emulated WebXR hands of the teleop tests, built from IWER's recorded poses by bending
// joints the way a hand bends: a finger's bones turn about its knuckle's hinge axis, toward the palm.
// Loaded as an init script before tests/teleop_hands.js (global `handShapes`) and by Node (tests that read
// the shapes' joint positions), so it has no imports.
//
// A pose is IWER's: {jointTransforms: {name: {offsetMatrix (4x4, column-major), radius}}, gripOffsetMatrix},
// in the left hand's frame (IWER mirrors it for the right hand).
(() => {
  const FINGERS = ['index-finger', 'middle-finger', 'ring-finger', 'pinky-finger'];
  const CHAIN = ['metacarpal', 'phalanx-proximal', 'phalanx-intermediate', 'phalanx-distal', 'tip'];
  const THUMB = ['thumb-metacarpal', 'thumb-phalanx-proximal', 'thumb-phalanx-distal', 'thumb-tip'];

  const sub = (a, b) => a.map((x, i) => x - b[i]);
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const unit = (v) => { const n = Math.hypot(...v); return v.map((x) => x / n); };
  const at = (m) => [m[12], m[13], m[14]];

  // Rotation matrix (row-major 3x3) of `angle` rad about the unit `axis` (Rodrigues).
  function rotation(axis, angle) {
    const [x, y, z] = axis, c = Math.cos(angle), s = Math.sin(angle), t = 1 - c;
    return [
      [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
      [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
      [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
    ];
  }
  const apply = (r, v) => r.map((row) => row[0] * v[0] + row[1] * v[1] + row[2] * v[2]);

  // A copy of `pose` whose joint matrices can be changed without touching the original.
  function copy(pose) {
    const jointTransforms = {};
    for (const [name, t] of Object.entries(pose.jointTransforms)) {
      jointTransforms[name] = { offsetMatrix: [...t.offsetMatrix], radius: t.radius };
    }
    const out = { jointTransforms };
    if (pose.gripOffsetMatrix) out.gripOffsetMatrix = [...pose.gripOffsetMatrix];
    return out;
  }

  // Turn the joints `names` of `pose` (in place) by `angle` about the line through `pivot` along `axis`.
  function turn(pose, names, pivot, axis, angle) {
    const r = rotation(axis, angle);
    for (const name of names) {
      const m = pose.jointTransforms[name].offsetMatrix;
      for (const col of [0, 4, 8]) {
        const v = apply(r, [m[col], m[col + 1], m[col + 2]]);
        m[col] = v[0]; m[col + 1] = v[1]; m[col + 2] = v[2];
      }
      const p = apply(r, sub(at(m), pivot));
      m[12] = p[0] + pivot[0]; m[13] = p[1] + pivot[1]; m[14] = p[2] + pivot[2];
    }
  }

  // The palm's normal (unit, pointing out of the palm) of a pose: across the knuckles, away from the back of
  // the hand.
  function palmNormal(pose) {
    const p = (name) => at(pose.jointTransforms[name].offsetMatrix);
    const wrist = p('wrist');
    const back = cross(sub(p('index-finger-phalanx-proximal'), wrist), sub(p('pinky-finger-phalanx-proximal'), wrist));
    return unit(back.map((x) => -x));
  }

  // Bend a digit's joints (in place) by `angles` (rad, one per joint from its first hinge on) about `axis`.
  function bend(pose, joints, angles, axis) {
    const p = (name) => at(pose.jointTransforms[name].offsetMatrix);
    angles.forEach((angle, k) => {
      if (angle) turn(pose, joints.slice(k + 1), p(joints[k + 1]), axis, angle);
    });
  }

  // A digit's hinge axis: across its first bone, turning it toward `palm` (a finger), or, without `palm`,
  // square to the plane of its first two bones, turning it further the way it already bends (the thumb).
  function hinge(pose, joints, palm) {
    const p = (name) => at(pose.jointTransforms[name].offsetMatrix);
    const first = sub(p(joints[1]), p(joints[0]));
    return unit(cross(first, palm || sub(p(joints[2]), p(joints[1]))));
  }

  // A power grasp round a can: the four fingers bent `fingers` rad at the knuckle and at the middle joint each,
  // the thumb from `thumbFrom` (a pose with the thumb across the palm, e.g. IWER's pinch) bent `thumb` rad
  // further at each of its two joints.
  function wrap(relaxed, thumbFrom, { fingers = 1.15, thumb = 0.1 } = {}) {
    const pose = copy(relaxed);
    for (const name of THUMB) {
      const t = thumbFrom.jointTransforms[name];
      pose.jointTransforms[name] = { offsetMatrix: [...t.offsetMatrix], radius: t.radius };
    }
    const palm = palmNormal(relaxed);
    for (const finger of FINGERS) {
      const joints = CHAIN.map((j) => `${finger}-${j}`);
      bend(pose, joints, [fingers, fingers], hinge(pose, joints, palm));
    }
    bend(pose, THUMB, [thumb, thumb], hinge(pose, THUMB));
    return pose;
  }

  // Straighten a digit (in place): each bone after the first turned about its base joint into the line of
  // the first, so the digit points the way its first bone does; bone lengths stay.
  function straighten(pose, joints) {
    const p = (name) => at(pose.jointTransforms[name].offsetMatrix);
    const line = unit(sub(p(joints[1]), p(joints[0])));
    for (let k = 1; k < joints.length - 1; k++) {
      const bone = unit(sub(p(joints[k + 1]), p(joints[k])));
      const axis = cross(bone, line);
      const n = Math.hypot(...axis);
      if (n < 1e-9) continue;
      const angle = Math.atan2(n, bone[0] * line[0] + bone[1] * line[1] + bone[2] * line[2]);
      turn(pose, joints.slice(k), p(joints[k]), axis.map((x) => x / n), angle);
    }
  }

  // A flat hand, as a person opens it to reach round something or to let go: every digit of `relaxed`
  // straight.
  function flat(relaxed) {
    const pose = copy(relaxed);
    for (const finger of FINGERS) straighten(pose, CHAIN.map((j) => `${finger}-${j}`));
    straighten(pose, THUMB);
    return pose;
  }

  // Joint positions of a pose in WebXR joint order (the order of `names`): for checks in Node.
  function positions(pose, names) {
    return names.map((name) => at(pose.jointTransforms[name].offsetMatrix));
  }

  const api = { copy, wrap, flat, bend, palmNormal, positions };
  if (typeof window !== 'undefined') window.handShapes = api;
  if (typeof module !== 'undefined') module.exports = api;
})();
