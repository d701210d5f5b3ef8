// Collect what the operator does and turn it into the messages of capture/teleop/inputs.py. The page sends
// raw input (held keys, stick values, tracked poses); the server maps it to targets, so a saved session
// replays without a browser. Numbers are rounded to 10 micrometres / 1e-5 before sending: the server and
// its log then hold exactly the same values.
const round = (v) => Math.round(v * 1e5) / 1e5;
const poseArray = (t) => [t.position.x, t.position.y, t.position.z,
  t.orientation.x, t.orientation.y, t.orientation.z, t.orientation.w].map(round);

// Keys held down, sent whenever the set changes; released all at once when the page loses focus.
export function keyboard(send) {
  const down = new Set();
  const passive = (e) => e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
  const flush = () => send({ type: 'keys', down: [...down].sort() });
  window.addEventListener('keydown', (e) => {
    if (passive(e) || e.repeat) return;
    if (e.code === 'Space' || e.code === 'Tab') e.preventDefault();
    if (!down.has(e.code)) { down.add(e.code); flush(); }
  });
  window.addEventListener('keyup', (e) => {
    if (down.delete(e.code)) flush();
  });
  window.addEventListener('blur', () => { if (down.size) { down.clear(); flush(); } });
}

// The first standard gamepad, polled once per animation frame, sent when its state changes.
export function gamepad(send) {
  let last = '';
  return function poll() {
    const pads = navigator.getGamepads ? navigator.getGamepads() : [];
    const pad = [...pads].find((p) => p && p.connected);
    if (!pad) return;
    const state = {
      type: 'gamepad',
      axes: [...pad.axes].slice(0, 8).map((a) => Math.max(-1, Math.min(1, Math.round(a * 100) / 100))),
      buttons: [...pad.buttons].slice(0, 32).map((b) => Math.round(b.value * 100) / 100),
    };
    const key = JSON.stringify(state);
    if (key !== last) { last = key; send(state); }
  };
}

// WebXR hands (25 joints) and controllers, read every XR frame, sent at most every `minMs` per hand.
export function xrInputs(send, minMs = 14) {
  const lastSent = { left: -1e9, right: -1e9 };
  const tracked = { left: false, right: false };
  return function read(frame, space, now) {
    const seen = { left: false, right: false };
    for (const source of frame.session.inputSources) {
      const hand = source.handedness;
      if (hand !== 'left' && hand !== 'right') continue;
      let msg = null;
      if (source.hand) {
        const joints = [];
        for (const jointSpace of source.hand.values()) {
          const pose = frame.getJointPose(jointSpace, space);
          if (!pose) break;
          joints.push(poseArray(pose.transform));
        }
        if (joints.length === 25) msg = { type: 'hand', hand, joints };
      } else if (source.gripSpace && source.gamepad) {
        const pose = frame.getPose(source.gripSpace, space);
        const buttons = source.gamepad.buttons;
        if (pose) {
          msg = {
            type: 'controller', hand, pose: poseArray(pose.transform),
            trigger: round(buttons[0] ? buttons[0].value : 0), squeeze: round(buttons[1] ? buttons[1].value : 0),
          };
        }
      }
      if (!msg) continue;
      seen[hand] = true;
      tracked[hand] = true;
      if (now - lastSent[hand] >= minMs) { lastSent[hand] = now; send(msg); }
    }
    for (const hand of ['left', 'right']) {
      if (tracked[hand] && !seen[hand]) { tracked[hand] = false; send({ type: 'lost', hand }); }
    }
  };
}

// Mouse on the view: Ctrl (or Cmd) + drag moves the active arm's target in the horizontal plane, Ctrl + wheel
// moves it up and down, Alt + drag turns it about the vertical, Shift makes any of them fine; a plain drag or
// wheel stays the view's (orbit, zoom). Listening in the capture phase on the view's container keeps a
// modified drag from reaching the orbit controls. Motion is summed and sent once per animation frame
// (`flush`), in world metres: `view()` gives the view's horizontal heading and metres per pixel.
export function mouse(send, element, view) {
  const MAX = 0.05, MAX_YAW = 0.3, YAW_PER_PX = 0.005, M_PER_WHEEL = 0.0002;
  const sum = { x: 0, y: 0, z: 0, yaw: 0 };
  let drag = null;
  const fine = (e) => (e.shiftKey ? 0.25 : 1);
  const capture = { capture: true };
  element.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !(e.ctrlKey || e.metaKey || e.altKey)) return;
    e.preventDefault();
    e.stopPropagation();
    drag = { x: e.clientX, y: e.clientY, turn: e.altKey && !(e.ctrlKey || e.metaKey) };
    element.setPointerCapture(e.pointerId);
  }, capture);
  element.addEventListener('pointermove', (e) => {
    if (!drag) return;
    e.stopPropagation();
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag.x = e.clientX;
    drag.y = e.clientY;
    if (drag.turn) { sum.yaw -= dx * YAW_PER_PX * fine(e); return; }
    const { forward, right, metresPerPixel } = view();
    const k = metresPerPixel * fine(e);
    sum.x += (right[0] * dx - forward[0] * dy) * k; // screen up is away from the viewer
    sum.y += (right[1] * dx - forward[1] * dy) * k;
  }, capture);
  const end = (e) => { if (drag) { drag = null; e.stopPropagation(); } };
  element.addEventListener('pointerup', end, capture);
  element.addEventListener('pointercancel', end, capture);
  element.addEventListener('wheel', (e) => {
    if (!(e.ctrlKey || e.metaKey)) return;
    e.preventDefault(); // Ctrl + wheel would zoom the page
    e.stopPropagation();
    sum.z -= e.deltaY * M_PER_WHEEL * fine(e);
  }, { capture: true, passive: false });
  // Send what was summed, at most the server's per-message bounds; the rest goes with the next frames.
  return function flush() {
    if (!sum.x && !sum.y && !sum.z && !sum.yaw) return;
    const take = (key, max) => {
      const v = Math.max(-max, Math.min(max, Math.round(sum[key] * 1e5) / 1e5));
      sum[key] = Math.abs(sum[key] - v) < 1e-6 ? 0 : sum[key] - v;
      return v;
    };
    send({ type: 'drag', move: [take('x', MAX), take('y', MAX), take('z', MAX)], yaw: take('yaw', MAX_YAW) });
  };
}
