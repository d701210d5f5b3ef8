// The teleop page: connects to the server, draws the live scene, sends the operator's input, shows the
// session's state. `window.demoforge` exposes the live state for tests and curious users.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { buildScene, targetMarkers } from './scene.js';
import { keyboard, gamepad, mouse, xrInputs } from './inputs.js';

const $ = (id) => document.getElementById(id);
const app = window.demoforge = {
  scene: null, frame: null, status: null, driver: false, errors: [], frames: 0, latencies: [], sent: 0,
  arrivals: [], // per measured input: ms from sending it to the arrival of the first frame that covers it
};

// ---- rendering ---------------------------------------------------------------------------------
const renderer = new THREE.WebGLRenderer({ antialias: false, powerPreference: 'high-performance' });
renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
renderer.setSize(window.innerWidth, window.innerHeight);
renderer.xr.enabled = true;
renderer.xr.setReferenceSpaceType('local-floor');
$('view').appendChild(renderer.domElement);

const scene3 = new THREE.Scene();
scene3.background = new THREE.Color(0x2a2f38);
scene3.add(new THREE.HemisphereLight(0xffffff, 0x444455, 1.6));
const sun = new THREE.DirectionalLight(0xffffff, 1.8);
sun.position.set(1, 3, 2);
scene3.add(sun);

const camera = new THREE.PerspectiveCamera(55, window.innerWidth / window.innerHeight, 0.02, 50);
app.view = { renderer, scene: scene3, camera }; // for diagnostics from the console
camera.position.set(0.55, 1.75, 0.45); // behind and to the right of the robot, looking down at the table
const orbit = new OrbitControls(camera, renderer.domElement);
orbit.target.set(0, 0.8, -0.75);
orbit.update();
window.addEventListener('resize', () => {
  camera.aspect = window.innerWidth / window.innerHeight;
  camera.updateProjectionMatrix();
  renderer.setSize(window.innerWidth, window.innerHeight);
});

let world = null; // {root, setPoses}
let markers = null;
let pendingFrame = null;

function showScene(description) {
  if (world) scene3.remove(world.root);
  world = buildScene(description);
  // The operator stands behind the robot: shift the world so that spot is the viewer's origin.
  const [ox, oy, oz] = description.operator;
  const shift = new THREE.Matrix4().makeTranslation(oy, -oz, ox);
  world.root.matrix.premultiply(shift);
  world.root.matrixWorldNeedsUpdate = true;
  markers = targetMarkers(world.root, description.arms.length);
  scene3.add(world.root);
}

// ---- the connection ----------------------------------------------------------------------------
const sentAt = new Map(); // seq -> {sent, arrived}: performance.now() (latency of input to rendered pose)
let seq = 0;
let socket = null;

function send(msg) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  seq += 1;
  msg.seq = seq;
  sentAt.set(seq, { sent: performance.now(), arrived: null });
  if (sentAt.size > 4000) sentAt.delete(sentAt.keys().next().value);
  socket.send(JSON.stringify(msg));
  app.sent += 1;
}
app.send = send;

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === 'frame') {
      pendingFrame = msg;
      app.frames += 1;
      const now = performance.now();
      for (const [s, t] of sentAt) { if (s > msg.ack) break; if (t.arrived === null) t.arrived = now; }
    }
    else if (msg.type === 'scene') { app.scene = msg; showScene(msg); }
    else if (msg.type === 'status') { app.status = msg; showStatus(msg); }
    else if (msg.type === 'role') { app.driver = msg.driver; showRole(); }
    else if (msg.type === 'error') { app.errors.push(msg.message); $('error').textContent = msg.message; }
  };
  socket.onclose = () => {
    $('state').textContent = 'disconnected';
    $('state').className = 'state';
    app.connected = false;
    setTimeout(connect, 1000);
  };
  socket.onopen = () => { app.connected = true; };
}

function showStatus(s) {
  $('task').textContent = s.description;
  $('state').textContent = { ready: 'ready: move to start recording', recording: 'recording', done: 'saved / next' }[s.state] || s.state;
  $('state').className = `state ${s.state}`;
  $('kept').textContent = s.kept;
  $('discarded').textContent = s.discarded;
  $('max-steps').textContent = s.max_steps;
  const last = $('last');
  if (s.last) {
    last.textContent = s.last.kept ? `demo ${s.last.episode}: kept` : `demo ${s.last.episode}: discarded (${s.last.reason})`;
    last.className = `last ${s.last.kept ? 'kept' : 'discarded'}`;
  }
  $('arm').textContent = s.arms.length > 1 ? `keys drive the ${s.arms[s.active]} arm (Tab to switch)` : '';
}

function showRole() {
  $('role').textContent = app.driver ? 'you are driving' : 'watching: another tab drives';
  $('take-control').hidden = app.driver;
}

// ---- the page's buttons ------------------------------------------------------------------------
const command = (name) => () => send({ type: 'command', name });
$('stop').onclick = command('stop');
$('discard').onclick = command('discard');
$('discard-last').onclick = command('discard_last');
$('take-control').onclick = command('take_control');
for (const b of document.querySelectorAll('button')) b.addEventListener('keydown', (e) => { if (e.code === 'Space') e.preventDefault(); });

keyboard(send);
const pollPad = gamepad(send);
const readXR = xrInputs(send);

// The view's horizontal heading in world axes (XR -z is world +x, XR -x is world +y) and the metres one pixel
// spans at the active target's depth, so a sideways drag moves the target as far as the cursor.
function dragView() {
  const look = new THREE.Vector3();
  camera.getWorldDirection(look);
  const n = Math.hypot(look.x, look.z) || 1;
  const forward = [-look.z / n, -look.x / n];
  const target = app.frame && app.status && world ? app.frame.targets[app.status.active] : null;
  const at = target ? world.root.localToWorld(new THREE.Vector3(target[0], target[1], target[2])) : orbit.target;
  const distance = camera.position.distanceTo(at);
  const metresPerPixel = 2 * distance * Math.tan(THREE.MathUtils.degToRad(camera.fov) / 2) / renderer.domElement.clientHeight;
  return { forward, right: [forward[1], -forward[0]], metresPerPixel };
}
const flushMouse = mouse(send, $('view'), dragView);

// ---- immersive WebXR ---------------------------------------------------------------------------
async function setupXR() {
  if (!navigator.xr) return;
  let mode = null;
  for (const m of ['immersive-vr', 'immersive-ar']) {
    try { if (await navigator.xr.isSessionSupported(m)) { mode = m; break; } } catch (e) { /* not supported */ }
  }
  if (!mode) return;
  const button = $('enter-xr');
  button.hidden = false;
  button.textContent = mode === 'immersive-ar' ? 'enter AR' : 'enter VR';
  button.onclick = async () => {
    const session = await navigator.xr.requestSession(mode, { optionalFeatures: ['local-floor', 'hand-tracking'] });
    await renderer.xr.setSession(session);
    app.xr = true;
    // Leaving XR or recentring the headset moves the reference space: let go of both clutches first, so the
    // target does not jump by the offset.
    const letGo = () => { for (const hand of ['left', 'right']) send({ type: 'lost', hand }); };
    session.addEventListener('end', () => { app.xr = false; letGo(); });
    const space = renderer.xr.getReferenceSpace();
    if (space) space.addEventListener('reset', letGo);
  };
}
setupXR();

// ---- adaptive resolution: a CPU renderer (no GPU) draws fewer pixels rather than fewer frames ----------
const fullRatio = Math.min(window.devicePixelRatio, 2);
let ratio = fullRatio, lastDraw = 0, slow = 0, fast = 0;
function adaptResolution(now) {
  const interval = now - lastDraw;
  lastDraw = now;
  if (renderer.xr.isPresenting || interval > 500) return; // XR sizes its own buffers; a hidden tab pauses
  slow = interval > 25 ? slow + 1 : 0; // under 40 frames/s for a while: draw 3/4 of the pixels
  fast = interval < 14 ? fast + 1 : 0; // over 70 frames/s for a while: draw more again
  if (slow > 5 && ratio > 0.25) { ratio *= 0.75; slow = 0; renderer.setPixelRatio(ratio); }
  if (fast > 60 && ratio < fullRatio) { ratio = Math.min(fullRatio, ratio / 0.75); fast = 0; renderer.setPixelRatio(ratio); }
  app.pixelRatio = ratio;
}

let stepShown = -1, stepShownAt = 0;

// ---- the loop ----------------------------------------------------------------------------------
renderer.setAnimationLoop((time, xrFrame) => {
  const now = performance.now();
  adaptResolution(now);
  if (xrFrame) readXR(xrFrame, renderer.xr.getReferenceSpace(), now);
  pollPad();
  flushMouse();
  let applied = null;
  if (pendingFrame && world) {
    applied = pendingFrame;
    pendingFrame = null;
    world.setPoses(applied.bodies);
    markers.set(applied.targets, applied.grippers);
    app.frame = applied;
    if (now - stepShownAt > 200 && applied.step !== stepShown) { // the panel's text, a few times a second: DOM
      stepShownAt = now; stepShown = applied.step; $('step').textContent = applied.step; // work costs frames
    }
  }
  const drawStart = performance.now();
  renderer.render(scene3, camera);
  app.renderMs = 0.9 * (app.renderMs || 0) + 0.1 * (performance.now() - drawStart); // diagnostics: draw cost
  if (applied) {
    const rendered = performance.now();
    for (const [s, t] of sentAt) {
      if (s > applied.ack) break;
      app.latencies.push(rendered - t.sent);
      app.arrivals.push(t.arrived - t.sent);
      sentAt.delete(s);
    }
    if (app.latencies.length > 10000) { app.latencies.splice(0, 5000); app.arrivals.splice(0, 5000); }
  }
});

connect();
