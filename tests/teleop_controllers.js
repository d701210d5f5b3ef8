// Emulated headset with controllers (IWER, WebXR on desktop Chromium) for tests/test_teleop_browser.py: loaded
// as an init script after IWER's UMD build (global `IWER`), before the page. The test moves
// `window.iwerDevice.controllers.right` and sets its buttons; each change shows on the next XR frame.
(() => {
  const device = new IWER.XRDevice(IWER.metaQuest3);
  device.installRuntime({ forceInstall: true });
  device.primaryInputMode = 'controller';
  window.iwerDevice = device;
})();
