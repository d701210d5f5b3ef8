// demoforge annotate --ui: each demo played from its stored states, with one timeline track per arm whose
// subtask boundaries can be dragged; "Save" sends them to the server, which checks them and writes the
// annotation file. Step i of a demo is frame i, shown at i / fps seconds.

const $ = (id) => document.getElementById(id);
const COLOURS = ['#7fb3f5', '#f5c16c', '#8fd6a3', '#e89ad8', '#9fe0e0', '#f59f8f', '#c3b3f5', '#d8e07f'];
const LOAD_AT_ONCE = 6; // frame requests in flight

const state = {
  info: null, // GET /api/session
  demos: [], // per demo: name, length, automatic, boundaries (per arm), saved, problem, touched
  current: -1,
  step: 0,
  playing: false,
  playStart: 0,
  frames: new Map(), // demo name -> {images: Image[], loaded, status}
  drag: null, // {handle, arm, index}
};

// ---- the server ---------------------------------------------------------------------------------
async function getJSON(url) {
  const res = await fetch(url, { cache: 'no-store' });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function boundariesByName(demo) {
  const out = {};
  state.info.subtasks.forEach((names, arm) => {
    demo.boundaries[arm].forEach((step, k) => { out[names[k]] = step; });
  });
  return out;
}

async function save() {
  const body = {};
  for (const demo of state.demos) {
    if (demo.touched || demo.saved) body[demo.name] = boundariesByName(demo);
  }
  $('save').disabled = true;
  try {
    const res = await fetch('/api/save', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const reply = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) {
      message(`not saved: ${reply.error}`, 'error');
      return;
    }
    for (const demo of state.demos) {
      demo.saved = reply.demos.includes(demo.name);
      demo.touched = false;
    }
    message(`saved boundaries of ${reply.demos.length} demo${reply.demos.length === 1 ? '' : 's'} to ${reply.path}`, 'ok');
    $('commands').textContent = `apply them to the source file:\n  ${reply.commands[0]}\n` +
      `or give them to the generator:\n  ${reply.commands[1]}`;
    $('commands').hidden = false;
    renderList();
    showDirty();
  } catch (err) {
    message(`not saved: ${err.message}`, 'error');
  } finally {
    $('save').disabled = false;
  }
}

function message(text, kind) {
  $('message').textContent = text;
  $('message').className = `message ${kind}`;
}

// ---- frames -------------------------------------------------------------------------------------
function framesOf(demo) {
  let entry = state.frames.get(demo.name);
  if (!entry) {
    entry = { images: new Array(demo.length).fill(null), loaded: 0, status: 'rendering', error: null };
    state.frames.set(demo.name, entry);
    fetchFrames(demo, entry);
  }
  return entry;
}

async function fetchFrames(demo, entry) {
  const url = `/api/demos/${encodeURIComponent(demo.name)}/frames`;
  try {
    for (;;) { // the server renders the demo once, on the first request; show how far it got
      const status = await getJSON(url);
      if (status.state === 'error') throw new Error(status.error);
      entry.status = `rendering ${status.done} / ${status.total} frames`;
      showRenderState();
      if (status.state === 'ready') break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    let next = 0;
    const worker = async () => {
      while (next < demo.length) {
        const i = next++;
        const image = new Image();
        image.src = `${url}/${i}`;
        await image.decode();
        entry.images[i] = image;
        entry.loaded += 1;
        entry.status = entry.loaded === demo.length ? '' : `loading ${entry.loaded} / ${demo.length} frames`;
        if (i === state.step || entry.loaded === demo.length) draw();
        showRenderState();
      }
    };
    await Promise.all(Array.from({ length: LOAD_AT_ONCE }, worker));
  } catch (err) {
    entry.error = `no video: ${err.message}`;
    showRenderState();
  }
}

function showRenderState() {
  const demo = state.demos[state.current];
  const entry = demo && state.frames.get(demo.name);
  const el = $('render-state');
  el.textContent = entry ? (entry.error || entry.status) : '';
  el.className = `render-state${entry && entry.error ? ' error' : ''}`;
  el.dataset.state = entry ? (entry.error ? 'error' : entry.loaded === demo.length ? 'ready' : 'loading') : 'none';
}

function draw() {
  const demo = state.demos[state.current];
  const canvas = $('video');
  const ctx = canvas.getContext('2d');
  const image = demo && state.frames.get(demo.name)?.images[state.step];
  if (image) {
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  } else {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  canvas.dataset.step = image ? String(state.step) : '';
}

// ---- playing ------------------------------------------------------------------------------------
function setStep(step) {
  const demo = state.demos[state.current];
  state.step = Math.max(0, Math.min(demo.length - 1, step));
  $('step').textContent = state.step;
  $('time').textContent = `${(state.step / state.info.fps).toFixed(2)} s`;
  $('now').textContent = state.info.arms.map((arm, a) => {
    const k = demo.boundaries[a].filter((b) => b <= state.step).length;
    return `${arm}: ${state.info.subtasks[a][k]}`;
  }).join(', ');
  for (const cursor of document.querySelectorAll('.cursor')) cursor.style.left = `${100 * (state.step + 0.5) / demo.length}%`;
  draw();
}

function play(on) {
  const demo = state.demos[state.current];
  state.playing = on;
  $('play').textContent = on ? 'pause' : 'play';
  if (!on) return;
  if (state.step >= demo.length - 1) setStep(0);
  state.playStart = performance.now() - 1000 * state.step / state.info.fps;
  const tick = (now) => {
    if (!state.playing || state.demos[state.current] !== demo) return;
    const step = Math.floor((now - state.playStart) / 1000 * state.info.fps);
    if (step >= demo.length - 1) {
      setStep(demo.length - 1);
      play(false);
      return;
    }
    if (step !== state.step) setStep(step);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

// ---- the timeline -------------------------------------------------------------------------------
function buildTimeline() {
  const demo = state.demos[state.current];
  const timeline = $('timeline');
  timeline.replaceChildren();
  const ruler = document.createElement('div');
  ruler.className = 'ruler';
  const every = demo.length > 400 ? 100 : demo.length > 160 ? 40 : 20;
  for (let s = 0; s < demo.length; s += every) {
    const mark = document.createElement('span');
    mark.style.left = `${100 * s / demo.length}%`;
    mark.textContent = s;
    ruler.append(mark);
  }
  timeline.append(ruler);
  state.info.arms.forEach((arm, a) => {
    const track = document.createElement('div');
    track.className = 'track';
    track.dataset.arm = a;
    const label = document.createElement('span');
    label.className = 'arm-label';
    label.textContent = arm;
    const lane = document.createElement('div');
    lane.className = 'lane';
    lane.dataset.arm = a;
    state.info.subtasks[a].forEach((name, k) => {
      const segment = document.createElement('div');
      segment.className = 'segment';
      segment.dataset.subtask = name;
      segment.textContent = name;
      segment.title = name;
      segment.style.background = COLOURS[(k + 3 * a) % COLOURS.length];
      lane.append(segment);
    });
    (demo.automatic ? demo.automatic[a] : []).forEach((step) => {
      const mark = document.createElement('div');
      mark.className = 'automatic';
      mark.style.left = `${100 * step / demo.length}%`;
      mark.title = `automatic: ${step}`;
      lane.append(mark);
    });
    demo.boundaries[a].forEach((_, k) => {
      const handle = document.createElement('div');
      handle.className = 'handle';
      handle.tabIndex = 0;
      handle.dataset.arm = a;
      handle.dataset.index = k;
      handle.setAttribute('role', 'slider');
      handle.setAttribute('aria-label', `end of ${state.info.subtasks[a][k]}`);
      handle.append(Object.assign(document.createElement('span'), { className: 'step' }));
      handle.addEventListener('keydown', nudge);
      lane.append(handle);
    });
    const cursor = document.createElement('div');
    cursor.className = 'cursor';
    lane.append(cursor);
    lane.addEventListener('pointerdown', startPress);
    track.append(label, lane);
    timeline.append(track);
  });
  layout();
}

function layout() {
  const demo = state.demos[state.current];
  const T = demo.length;
  state.info.arms.forEach((_, a) => {
    const lane = document.querySelector(`.lane[data-arm="${a}"]`);
    const ends = [...demo.boundaries[a], T];
    lane.querySelectorAll('.segment').forEach((segment, k) => {
      const start = k === 0 ? 0 : ends[k - 1];
      segment.style.left = `${100 * start / T}%`;
      segment.style.width = `${100 * (ends[k] - start) / T}%`;
      segment.dataset.start = start;
      segment.dataset.end = ends[k];
    });
    lane.querySelectorAll('.handle').forEach((handle, k) => {
      const step = demo.boundaries[a][k];
      const [lo, hi] = limits(demo, a, k);
      handle.style.left = `${100 * step / T}%`;
      handle.dataset.step = step;
      handle.setAttribute('aria-valuenow', step);
      handle.setAttribute('aria-valuemin', lo);
      handle.setAttribute('aria-valuemax', hi);
      handle.title = `end of ${state.info.subtasks[a][k]}: step ${step}`;
      handle.querySelector('.step').textContent = step;
    });
  });
  showDirty();
  setStep(state.step);
}

function showDirty() {
  const edited = state.demos.filter((d) => d.touched).length;
  $('dirty').textContent = edited ? `unsaved changes in ${edited} demo${edited === 1 ? '' : 's'}` : '';
}

// A boundary stays inside the demo (1 .. T-1) and strictly between its neighbours on the same arm.
function limits(demo, arm, k) {
  const bounds = demo.boundaries[arm];
  const lo = k > 0 ? bounds[k - 1] + 1 : 1;
  const hi = k < bounds.length - 1 ? bounds[k + 1] - 1 : demo.length - 1;
  return [lo, hi];
}

function moveBoundary(arm, k, step) {
  const demo = state.demos[state.current];
  const [lo, hi] = limits(demo, arm, k);
  const clamped = Math.max(lo, Math.min(hi, step));
  if (clamped !== demo.boundaries[arm][k]) {
    demo.boundaries[arm][k] = clamped;
    if (!demo.touched) {
      demo.touched = true;
      renderList();
    }
  }
  state.step = clamped; // show the first frame of the next subtask
  layout();
}

function fraction(lane, clientX) {
  const box = lane.getBoundingClientRect();
  return (clientX - box.left) / box.width;
}

// A press within HANDLE_REACH pixels of a boundary drags it; elsewhere on the lane it seeks. Boundaries a step
// apart overlap on a long demo: of those under the pointer, the first move left drags the leftmost, a move
// right the rightmost (the only ones that can go that way).
const HANDLE_REACH = 7;

function startPress(event) {
  const lane = event.currentTarget;
  const demo = state.demos[state.current];
  event.preventDefault();
  play(false);
  lane.setPointerCapture(event.pointerId);
  const near = [...lane.querySelectorAll('.handle')].filter((handle) => {
    const box = handle.getBoundingClientRect();
    return Math.abs(box.left + box.width / 2 - event.clientX) <= HANDLE_REACH;
  });
  let handle = near.length === 1 ? near[0] : null;
  const grab = (h) => {
    handle = h;
    handle.focus();
    handle.classList.add('dragging');
  };
  if (handle) grab(handle);
  const move = (e) => {
    if (near.length === 0) {
      setStep(Math.floor(fraction(lane, e.clientX) * demo.length));
      return;
    }
    if (!handle) {
      if (e.clientX === event.clientX) return;
      grab(e.clientX < event.clientX ? near[0] : near[near.length - 1]);
    }
    moveBoundary(Number(handle.dataset.arm), Number(handle.dataset.index), Math.round(fraction(lane, e.clientX) * demo.length));
  };
  const end = () => {
    if (handle) handle.classList.remove('dragging');
    lane.removeEventListener('pointermove', move);
    lane.removeEventListener('pointerup', end);
    lane.removeEventListener('pointercancel', end);
  };
  if (near.length === 0) move(event);
  lane.addEventListener('pointermove', move);
  lane.addEventListener('pointerup', end);
  lane.addEventListener('pointercancel', end);
}

function nudge(event) {
  const by = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
  if (!by) return;
  event.preventDefault();
  event.stopPropagation();
  const handle = event.currentTarget;
  const arm = Number(handle.dataset.arm);
  const k = Number(handle.dataset.index);
  moveBoundary(arm, k, state.demos[state.current].boundaries[arm][k] + by * (event.shiftKey ? 10 : 1));
}

// ---- the demo list ------------------------------------------------------------------------------
function renderList() {
  const list = $('demos');
  list.replaceChildren(...state.demos.map((demo, i) => {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.dataset.demo = demo.name;
    button.className = i === state.current ? 'current' : '';
    const name = Object.assign(document.createElement('span'), { textContent: `${demo.name} (${demo.length})` });
    button.append(name);
    const badge = demo.touched ? ['edited', 'edited'] : demo.saved ? ['saved', 'saved']
      : demo.problem ? ['problem', 'no automatic boundaries'] : null;
    if (badge) button.append(Object.assign(document.createElement('span'), { className: `badge ${badge[0]}`, textContent: badge[1] }));
    button.addEventListener('click', () => select(i));
    item.append(button);
    return item;
  }));
}

function select(i) {
  play(false);
  state.current = i;
  state.step = 0;
  const demo = state.demos[i];
  const canvas = $('video');
  canvas.width = state.info.width;
  canvas.height = state.info.height;
  $('last').textContent = demo.length - 1;
  $('problem').textContent = demo.problem
    ? `${demo.problem} — the boundaries shown are spread evenly: drag them to where the subtasks end` : '';
  $('reset').disabled = !demo.automatic;
  renderList();
  buildTimeline();
  framesOf(demo);
  showRenderState();
}

function resetDemo() {
  const demo = state.demos[state.current];
  if (!demo.automatic) return;
  demo.boundaries = demo.automatic.map((arm) => arm.slice());
  demo.touched = true;
  renderList();
  layout();
}

function onKey(event) {
  if (state.current < 0 || event.target.closest('.handle') || event.target.tagName === 'BUTTON') return;
  if (event.key === ' ') {
    event.preventDefault();
    play(!state.playing);
  } else if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
    event.preventDefault();
    play(false);
    setStep(state.step + (event.key === 'ArrowLeft' ? -1 : 1));
  }
}

async function main() {
  try {
    state.info = await getJSON('/api/session');
  } catch (err) {
    message(`cannot load the session: ${err.message}`, 'error');
    return;
  }
  const info = state.info;
  $('task').textContent = `${info.task}: ${info.description}`;
  $('file').textContent = `${info.file} → ${info.annotations}`;
  state.demos = info.demos.map((d) => ({ ...d, boundaries: d.boundaries.map((arm) => arm.slice()), touched: false }));
  $('play').addEventListener('click', () => play(!state.playing));
  $('prev').addEventListener('click', () => { play(false); setStep(state.step - 1); });
  $('next').addEventListener('click', () => { play(false); setStep(state.step + 1); });
  $('reset').addEventListener('click', resetDemo);
  $('save').addEventListener('click', save);
  window.addEventListener('keydown', onKey);
  window.addEventListener('beforeunload', (event) => {
    if (state.demos.some((d) => d.touched)) event.preventDefault();
  });
  if (info.started_from) message(`started from ${info.started_from}`, 'ok');
  select(0);
  document.body.dataset.ready = 'true';
}

main();
