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
