// Prints IWER's recorded hand poses (MIT, Meta: captured from a tracked hand) as JSON: per pose, the 25
// joints in WebXR order with their positions (metres), for the retargeting test.
import { pinchHandPose } from 'iwer/lib/device/configs/hand/pinch.js';
import { pointHandPose } from 'iwer/lib/device/configs/hand/point.js';
import { relaxedHandPose } from 'iwer/lib/device/configs/hand/relaxed.js';

const poses = { pinch: pinchHandPose, point: pointHandPose, relaxed: relaxedHandPose };
const out = {};
for (const [name, pose] of Object.entries(poses)) {
  out[name] = Object.entries(pose.jointTransforms).map(([joint, t]) => [joint, t.offsetMatrix.slice(12, 15)]);
}
console.log(JSON.stringify(out));
