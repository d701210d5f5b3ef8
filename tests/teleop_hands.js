// Both of a person's hands at the teleop page, emulated with IWER (WebXR on desktop Chromium): loaded by
// tests/test_teleop_browser.py as an init script after IWER's UMD build (global `IWER`) and
// tests/hand_shapes.js (global `handShapes`), before the page.
//
// `window.handDrivers.right` and `.left` (and `window.handDriver`, the right one) move the emulated hands once
// per XR frame, the way a person would: toward a goal given for the *target the server streams back* for the
// hand's arm (closed loop: the page's window.demoforge.frame), with a bounded, smoothly changing speed and
// turn rate, physiological tremor (about a millimetre at 8-12 Hz plus a slow drift), and hand shapes that
// change over several frames. The test decides what to do (tests/teleop_driver.py); this file only decides
// how the hands get there. Changes made in a frame's callback show on the next XR frame.
//
// Hand shapes (IWER poses; for a gripper robot the clutch is thumb + MIDDLE finger, the gripper thumb-index
// distance; a dexterous robot hand takes every finger's bend):
//   open         IWER's relaxed hand: nothing pinched (thumb-middle 13 cm, thumb-index 9 cm)
//   clutch       thumb and middle tips together, index away: clutched, gripper open
//   clutch_grip  thumb, middle and index together: clutched, gripper closed
//   grip         thumb and index together, middle away: not clutched (the gripper command stays as it was)
//   wrap         a power grasp round a can: fingers bent at knuckle and middle joint, thumb across
//   flat         every digit straight: a hand opened to reach round something or to let go
// Every shape keeps the relaxed hand's wrist, so changing shape does not move the wrist. A change from shape A
// to shape B goes through IWER's pinch interpolation: poses.pinch = B, poseId = A, pinchValue 0 -> 1 over
// some frames; then poseId = B and pinchValue = 0.
(() => {
  const device = new IWER.XRDevice(IWER.metaQuest3);
  device.installRuntime({ forceInstall: true });
  device.primaryInputMode = 'hand';

  const P = IWER.P_HAND_INPUT;
  const shared = device.hands.right[P].poses; // IWER's {default, pinch, point}, shared by both hands
  const relaxed = shared.default, pinched = shared.pinch;
  const joints = Object.keys(relaxed.jointTransforms);

  // A pose: every joint from `relaxed`, except the thumb (from the pinch pose when `thumb`), the index finger
  // (the pinch pose's index when `index`) and the middle finger (placed where the pinch pose's index is when
  // `middle`: its tip then touches the thumb tip).
  function shape({ thumb = false, index = false, middle = false }) {
    const pose = handShapes.copy(relaxed);
    for (const name of joints) {
      let source = null;
      if (thumb && name.startsWith('thumb-')) source = pinched.jointTransforms[name];
      if (index && name.startsWith('index-finger-')) source = pinched.jointTransforms[name];
      if (middle && name.startsWith('middle-finger-')) {
        source = pinched.jointTransforms[name.replace('middle-finger-', 'index-finger-')];
      }
      if (source) pose.jointTransforms[name] = { offsetMatrix: [...source.offsetMatrix], radius: source.radius };
    }
    return pose;
  }
  const shapes = {
    default: relaxed,
    open: relaxed,
    clutch: shape({ thumb: true, middle: true }),
    clutch_grip: shape({ thumb: true, index: true, middle: true }),
    grip: shape({ thumb: true, index: true }),
    wrap: handShapes.wrap(relaxed, pinched),
    flat: handShapes.flat(relaxed),
  };

  // Deterministic noise (mulberry32), so a run's hand motion depends only on the seed and the timing.
  let seed = 12345;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const clip = (v, limit) => {
    const n = Math.hypot(...v);
    return n > limit ? v.map((x) => (x * limit) / n) : v;
  };
  const wrap = (a) => Math.atan2(Math.sin(a), Math.cos(a));
  const yawOf = (q) => Math.atan2(2 * (q[0] * q[1] + q[3] * q[2]), 1 - 2 * (q[1] * q[1] + q[2] * q[2]));
  const worldToXr = (v) => [-v[1], v[2], -v[0]]; // inputs.py's WORLD_R_XR, transposed
  // Quaternions (x, y, z, w), as WebXR and three.js hold them.
  const qmul = (a, b) => [
    a[3] * b[0] + a[0] * b[3] + a[1] * b[2] - a[2] * b[1],
    a[3] * b[1] - a[0] * b[2] + a[1] * b[3] + a[2] * b[0],
    a[3] * b[2] + a[0] * b[1] - a[1] * b[0] + a[2] * b[3],
    a[3] * b[3] - a[0] * b[0] - a[1] * b[1] - a[2] * b[2],
  ];
  const qexp = (v) => { // the rotation by the rotation vector v
    const angle = Math.hypot(...v);
    if (angle < 1e-12) return [0, 0, 0, 1];
    const s = Math.sin(angle / 2) / angle;
    return [v[0] * s, v[1] * s, v[2] * s, Math.cos(angle / 2)];
  };
  const qlog = (q) => { // the rotation vector of q (the short way round)
    const [x, y, z, w] = q[3] < 0 ? q.map((c) => -c) : q;
    const n = Math.hypot(x, y, z);
    if (n < 1e-12) return [0, 0, 0];
    const angle = 2 * Math.atan2(n, w);
    return [x, y, z].map((c) => (c * angle) / n);
  };
  const qconj = (q) => [-q[0], -q[1], -q[2], q[3]];

  function makeDriver(handedness) {
    const hand = device.hands[handedness];
    const poses = { ...shapes }; // this hand's table: `pinch` is the shape it changes to
    poses.pinch = poses.open;
    hand[P].poses = poses;
    const phases = Array.from({ length: 7 }, () => 2 * Math.PI * random());
    return {
      handedness,
      poses,
      // how a person moves: speeds in m/s and rad/s, gains in 1/s, acceleration in m/s^2, tremor in metres
      speed: 0.2, gain: 3.0, accel: 0.8, turnSpeed: 0.6, turnGain: 2.5, tremor: 0.0008, drift: 0.0008,
      arm: handedness === 'right' ? 0 : 1, // the arm whose streamed target this hand steers
      mode: 'hold', // 'track' (goal for the streamed target), 'move' (open loop, the hand itself), 'hold'
      goal: null, // track: {pos: world [x, y, z], yaw or quat: world (x, y, z, w), speed}; move: XR position
      shapeName: 'open',
      transition: null, // {to, frames, k}
      position: [hand.position.x, hand.position.y, hand.position.z], // where the hand is meant to be (no tremor)
      orientation: [0, 0, 0, 1], // the hand's turn (XR frame) since the start
      velocity: [0, 0, 0],
      turnRate: [0, 0, 0], // XR frame, rad/s
      driftNow: [0, 0, 0],
      measured: null,
      get busy() {
        if (this.transition) return true;
        if (this.mode !== 'move') return false;
        const left = Math.hypot(...this.goal.map((g, i) => g - this.position[i]));
        return left > 0.002 || Math.hypot(...this.velocity) > 0.01;
      },
      track(pos, yaw, quat, speed) { this.mode = 'track'; this.goal = { pos, yaw, quat, speed: speed || this.speed }; },
      move(delta) { this.mode = 'move'; this.goal = this.position.map((p, i) => p + delta[i]); },
      hold() { this.mode = 'hold'; this.goal = null; },
      apply(command) { // one of the operators' commands (tests/teleop_driver.py)
        if (command.shape) this.shape(command.shape, command.frames);
        else if (command.track) this.track(command.track, command.yaw, command.quat, command.speed);
        else if (command.move) this.move(command.move);
        else if (command.hold) this.hold();
        else throw new Error(`unknown hand command ${JSON.stringify(command)}`);
      },
      shape(to, frames = 8) {
        if (!poses[to]) throw new Error(`no hand shape ${to}`);
        this.transition = { to, frames: Math.max(1, frames), k: 0 };
      },

      // One XR frame: the shape, then the motion, then the hand's pose for the next frame.
      step(frame, dt, space) {
        if (this.transition) {
          const t = this.transition;
          if (t.k < t.frames) {
            if (t.k === 0) { poses.pinch = poses[t.to]; hand.poseId = this.shapeName; }
            t.k += 1;
            hand.updatePinchValue(t.k / t.frames);
          } else {
            poses.pinch = poses[t.to];
            hand.poseId = t.to;
            hand.updatePinchValue(0);
            this.shapeName = t.to;
            this.transition = null;
          }
        }
        let want = [0, 0, 0];
        let turn = [0, 0, 0];
        const streamed = window.demoforge && window.demoforge.frame;
        if (this.mode === 'track' && streamed) {
          const t = streamed.targets[this.arm];
          const e = this.goal.pos.map((g, i) => g - t[i]); // world
          want = clip(worldToXr(e).map((x) => this.gain * x), this.goal.speed); // slower near things
          if (this.goal.quat) { // turn toward the goal's orientation about whichever axis gets there
            const error = qlog(qmul(this.goal.quat, qconj(t.slice(3)))); // world
            turn = clip(worldToXr(error).map((x) => this.turnGain * x), this.turnSpeed);
          } else {
            const yawErr = wrap(this.goal.yaw - yawOf(t.slice(3)));
            turn = [0, Math.max(-this.turnSpeed, Math.min(this.turnSpeed, this.turnGain * yawErr)), 0];
          }
        } else if (this.mode === 'move') {
          want = clip(this.goal.map((g, i) => this.gain * 1.5 * (g - this.position[i])), this.speed);
        }
        const change = clip(want.map((w, i) => w - this.velocity[i]), this.accel * dt);
        this.velocity = this.velocity.map((v, i) => v + change[i]);
        this.position = this.position.map((p, i) => p + this.velocity[i] * dt);
        this.turnRate = this.turnRate.map((r, i) => r + Math.max(-4 * dt, Math.min(4 * dt, turn[i] - r)));
        this.orientation = qmul(qexp(this.turnRate.map((r) => r * dt)), this.orientation);

        const s = performance.now() / 1000;
        const wander = (d) => Math.max(-this.drift, Math.min(this.drift, d + (random() - 0.5) * 0.0004));
        this.driftNow = this.driftNow.map(wander);
        const shake = [0, 1, 2].map((i) => this.tremor * (0.6 * Math.sin(2 * Math.PI * 8.7 * s + phases[i])
          + 0.4 * Math.sin(2 * Math.PI * 11.3 * s + phases[i + 3])) + this.driftNow[i]);
        hand.position.set(...this.position.map((p, i) => p + shake[i]));
        const wobble = qexp([0, 0.004 * Math.sin(2 * Math.PI * 9.1 * s + phases[6]), 0]);
        hand.quaternion.set(...qmul(wobble, this.orientation));

        if (space) { // what the page reads from this hand now: for the test's checks
          const source = [...frame.session.inputSources].find((x) => x.hand && x.handedness === handedness);
          if (source) {
            const at = (name) => {
              const p = frame.getJointPose(source.hand.get(name), space).transform.position;
              return [p.x, p.y, p.z];
            };
            const [wrist, thumb, index, middle] = ['wrist', 'thumb-tip', 'index-finger-tip', 'middle-finger-tip'].map(at);
            const d = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
            this.measured = { shape: this.shapeName, wrist, thumbIndex: d(thumb, index), thumbMiddle: d(thumb, middle) };
          }
        }
      },
    };
  }

  const drivers = window.handDrivers = { right: makeDriver('right'), left: makeDriver('left') };
  window.handDriver = drivers.right;

  // Run both hands' `step` in every frame of the session the page starts (registered before the page's own loop).
  const xr = navigator.xr;
  const request = xr.requestSession.bind(xr);
  xr.requestSession = async (mode, init) => {
    const session = await request(mode, init);
    let space = null;
    session.requestReferenceSpace('local-floor').then((s) => { space = s; });
    let last = null;
    const loop = (time, frame) => {
      const now = performance.now();
      const dt = last === null ? 1 / 60 : Math.min(0.1, (now - last) / 1000);
      last = now;
      for (const driver of Object.values(drivers)) {
        try { driver.step(frame, dt, space); } catch (e) { driver.error = String(e && e.stack || e); }
      }
      session.requestAnimationFrame(loop);
    };
    session.requestAnimationFrame(loop);
    return session;
  };
})();
