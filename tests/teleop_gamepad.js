// A standard-mapping gamepad for the teleop page's browser test: navigator.getGamepads returns it, and the
// test sets its sticks and buttons through `window.testPad` (values as the Gamepad API gives them).
(() => {
  const pad = {
    id: 'demoforge test pad', index: 0, connected: true, mapping: 'standard', timestamp: 0,
    axes: [0, 0, 0, 0],
    buttons: Array.from({ length: 17 }, () => ({ value: 0, pressed: false, touched: false })),
  };
  window.testPad = {
    axes(values) { pad.axes = values.slice(); },
    button(i, value) { pad.buttons[i] = { value, pressed: value > 0.5, touched: value > 0 }; },
  };
  navigator.getGamepads = () => [pad, null, null, null];
})();
