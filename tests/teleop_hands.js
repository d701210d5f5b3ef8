// A person's right hand at the teleop page, emulated with IWER (WebXR on desktop Chromium): loaded by
// tests/test_teleop_browser.py as an init script after IWER's UMD build (global `IWER`), before the page.
//
// `window.handDriver` moves the emulated hand once per XR frame, the way a person would: toward a goal given
// for the *target the server streams back* (closed loop: the page's window.demoforge.frame), with a bounded,
// smoothly changing speed, physiological tremor (about a millimetre at 8-12 Hz plus a slow drift), and hand
// shapes that change over several frames. The test decides what to do (tests/teleop_driver.py); this file only
// decides how the hand gets there. Changes made in a frame's callback show on the next XR frame.
//
// Hand shapes (IWER poses; the clutch is thumb + MIDDLE finger, the gripper thumb-index distance):
//   open         IWER's relaxed hand: nothing pinched (thumb-middle 13 cm, thumb-index 9 cm)
//   clutch       thumb and middle tips together, index away: clutched, gripper open
//   clutch_grip  thumb, middle and index together: clutched, gripper closed
//   grip         thumb and index together, middle away: not clutched (the gripper command stays as it was)
// Every shape keeps the relaxed hand's wrist, so changing shape does not move the wrist. A change from shape A
// to shape B goes through IWER's pinch interpolation: poses.pinch = B, poseId = A, pinchValue 0 -> 1 over
// some frames; then poseId = B and pinchValue = 0.
(() => {
  const device = new IWER.XRDevice(IWER.metaQuest3);
  device.installRuntime({ forceInstall: true });
  device.primaryInputMode = 'hand';

  const P = IWER.P_HAND_INPUT;
  const hand = device.hands.right;
  const shared = hand[P].poses; // IWER's {default, pinch, point}, shared with the left hand: left untouched
  const relaxed = shared.default, pinched = shared.pinch;
  const joints = Object.keys(relaxed.jointTransforms);
  const copy = (t) => ({ offsetMatrix: [...t.offsetMatrix], radius: t.radius });

  // A pose: every joint from `relaxed`, except the thumb (from the pinch pose when `thumb`), the index finger
  // (the pinch pose's index when `index`) and the middle finger (placed where the pinch pose's index is when
  // `middle`: its tip then touches the thumb tip).
  function shape({ thumb = false, index = false, middle = false }) {
    const jointTransforms = {};
    for (const name of joints) {
      let source = relaxed.jointTransforms[name];
      if (thumb && name.startsWith('thumb-')) source = pinched.jointTransforms[name];
      if (index && name.startsWith('index-finger-')) source = pinched.jointTransforms[name];
      if (middle && name.startsWith('middle-finger-')) {
        source = pinched.jointTransforms[name.replace('middle-finger-', 'index-finger-')];
      }
      jointTransforms[name] = copy(source);
    }
    const pose = { jointTransforms };
    if (relaxed.gripOffsetMatrix) pose.gripOffsetMatrix = [...relaxed.gripOffsetMatrix];
    return pose;
  }
  const poses = {
    default: relaxed,
    open: relaxed,
    clutch: shape({ thumb: true, middle: true }),
    clutch_grip: shape({ thumb: true, index: true, middle: true }),
    grip: shape({ thumb: true, index: true }),
  };
  poses.pinch = poses.open;
  hand[P].poses = poses; // the right hand's own table

  // Deterministic noise (mulberry32), so a run's hand motion depends only on the seed and the timing.
  let seed = 12345;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const phases = Array.from({ length: 6 }, () => 2 * Math.PI * random());

  const clip = (v, limit) => {
    const n = Math.hypot(...v);
    return n > limit ? v.map((x) => (x * limit) / n) : v;
  };
  const wrap = (a) => Math.atan2(Math.sin(a), Math.cos(a));
  const yawOf = (q) => Math.atan2(2 * (q[0] * q[1] + q[3] * q[2]), 1 - 2 * (q[1] * q[1] + q[2] * q[2]));

  const driver = window.handDriver = {
    device,
    poses,
    // how a person moves: speeds in m/s and rad/s, gains in 1/s, acceleration in m/s^2, tremor in metres
    speed: 0.2, gain: 3.0, accel: 0.8, turnSpeed: 0.6, turnGain: 2.5, tremor: 0.0008, drift: 0.0008,
    mode: 'hold', // 'track' (goal for the streamed target), 'move' (open loop, the hand itself), 'hold'
    goal: null, // track: {pos: world [x, y, z], yaw}; move: XR position of the hand
    shapeName: 'open',
    transition: null, // {to, frames, k}
    position: [hand.position.x, hand.position.y, hand.position.z], // where the hand is meant to be (no tremor)
    yaw: 0, // turn of the hand about XR +y (world +z) since the start
    velocity: [0, 0, 0],
    turnRate: 0,
    driftNow: [0, 0, 0],
    frames: 0,
    measured: null,
    session: null,
    space: null,
    get busy() {
      if (this.transition) return true;
      if (this.mode !== 'move') return false;
      const left = Math.hypot(...this.goal.map((g, i) => g - this.position[i]));
      return left > 0.002 || Math.hypot(...this.velocity) > 0.01;
    },
    track(pos, yaw) { this.mode = 'track'; this.goal = { pos, yaw }; },
    move(delta) { this.mode = 'move'; this.goal = this.position.map((p, i) => p + delta[i]); },
    hold() { this.mode = 'hold'; this.goal = null; },
    apply(command) { // one of HandStackOperator's commands (tests/teleop_driver.py)
      if (command.shape) this.shape(command.shape, command.frames);
      else if (command.track) this.track(command.track, command.yaw);
      else if (command.move) this.move(command.move);
      else if (command.hold) this.hold();
      else throw new Error(`unknown hand command ${JSON.stringify(command)}`);
    },
    shape(to, frames = 8) {
      if (!poses[to]) throw new Error(`no hand shape ${to}`);
      this.transition = { to, frames: Math.max(1, frames), k: 0 };
    },

    // One XR frame: the shape, then the motion, then the hand's pose for the next frame.
    step(frame, dt) {
      this.frames += 1;
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
      let turn = 0;
      const streamed = window.demoforge && window.demoforge.frame;
      if (this.mode === 'track' && streamed) {
        const t = streamed.targets[0];
        const e = this.goal.pos.map((g, i) => g - t[i]); // world
        want = clip([-e[1], e[2], -e[0]].map((x) => this.gain * x), this.speed); // world -> XR (inputs.py)
        const yawErr = wrap(this.goal.yaw - yawOf(t.slice(3)));
        turn = Math.max(-this.turnSpeed, Math.min(this.turnSpeed, this.turnGain * yawErr));
      } else if (this.mode === 'move') {
        want = clip(this.goal.map((g, i) => this.gain * 1.5 * (g - this.position[i])), this.speed);
      }
      const change = clip(want.map((w, i) => w - this.velocity[i]), this.accel * dt);
      this.velocity = this.velocity.map((v, i) => v + change[i]);
      this.position = this.position.map((p, i) => p + this.velocity[i] * dt);
      this.turnRate += Math.max(-4 * dt, Math.min(4 * dt, turn - this.turnRate));
      this.yaw += this.turnRate * dt;

      const s = performance.now() / 1000;
      const wander = (d) => Math.max(-this.drift, Math.min(this.drift, d + (random() - 0.5) * 0.0004));
      this.driftNow = this.driftNow.map(wander);
      const shake = [0, 1, 2].map((i) => this.tremor * (0.6 * Math.sin(2 * Math.PI * 8.7 * s + phases[i])
        + 0.4 * Math.sin(2 * Math.PI * 11.3 * s + phases[i + 3])) + this.driftNow[i]);
      hand.position.set(...this.position.map((p, i) => p + shake[i]));
      const half = (this.yaw + 0.004 * Math.sin(2 * Math.PI * 9.1 * s + phases[0])) / 2;
      hand.quaternion.set(0, Math.sin(half), 0, Math.cos(half));

      if (this.space) { // what the page reads from this hand now: for the test's checks
        const source = [...frame.session.inputSources].find((x) => x.hand && x.handedness === 'right');
        if (source) {
          const at = (name) => {
            const p = frame.getJointPose(source.hand.get(name), this.space).transform.position;
            return [p.x, p.y, p.z];
          };
          const [wrist, thumb, index, middle] = ['wrist', 'thumb-tip', 'index-finger-tip', 'middle-finger-tip'].map(at);
          const d = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
          this.measured = { shape: this.shapeName, wrist, thumbIndex: d(thumb, index), thumbMiddle: d(thumb, middle) };
        }
      }
    },
  };

  // Run `step` in every frame of the session the page starts (registered before the page's own loop).
  const xr = navigator.xr;
  const request = xr.requestSession.bind(xr);
  xr.requestSession = async (mode, init) => {
    const session = await request(mode, init);
    driver.session = session;
    session.requestReferenceSpace('local-floor').then((space) => { driver.space = space; });
    let last = null;
    const loop = (time, frame) => {
      const now = performance.now();
      const dt = last === null ? 1 / 60 : Math.min(0.1, (now - last) / 1000);
      last = now;
      try { driver.step(frame, dt); } catch (e) { driver.error = String(e && e.stack || e); }
      session.requestAnimationFrame(loop);
    };
    session.requestAnimationFrame(loop);
    return session;
  };
})();
