// Scanning: keyboard-wedge scanners, the camera, and loud feedback.
//
// A wedge scanner is a keyboard that types the code and presses Enter, into whatever has
// the focus — so the scan input keeps the focus whenever nothing else deliberately took
// it. Layout mix-ups (a German keyboard layout under a US-configured scanner: Y/Z, ß for -)
// are undone by the server (POST /api/v1/scan), not here.
// The camera uses the browser's BarcodeDetector where it exists, else the vendored jsQR
// (app/web/static/vendor/jsqr, Apache-2.0), loaded only when needed.

// ---- Keyboard wedge ----------------------------------------------------------------------

export function attachWedge(input, onScan) {
  // Scans are handled one after the other, in the order they were read: a scanner can
  // fire the next code before the server has answered the previous one.
  let queue = Promise.resolve();
  const refocus = () => {
    const active = document.activeElement;
    // Only reclaim the focus from "nowhere": a person typing in another field keeps it.
    if (!active || active === document.body || active === document.documentElement) input.focus();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const value = input.value.trim();
    input.value = "";
    if (value) queue = queue.then(() => onScan(value)).catch(() => {});
  });
  input.addEventListener("blur", () => setTimeout(refocus, 0));
  // A scan that starts while nothing has the focus still lands in the input.
  document.addEventListener("keydown", (event) => {
    if (event.target === document.body && event.key.length === 1 && !event.ctrlKey && !event.metaKey) {
      input.focus();
    }
  });
  input.focus();
  return { focus: () => input.focus() };
}

// ---- Feedback ----------------------------------------------------------------------------

let audio = null;

// A short beep with WebAudio: high and short for yes, low and longer for no (no audio files).
export function beep(ok) {
  try {
    audio = audio || new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = ok ? "sine" : "square";
    oscillator.frequency.value = ok ? 1320 : 220;
    gain.gain.value = 0.15;
    oscillator.connect(gain).connect(audio.destination);
    const now = audio.currentTime;
    oscillator.start(now);
    oscillator.stop(now + (ok ? 0.12 : 0.4));
  } catch {
    // No audio (autoplay policy, no device): the colour and the text still say it.
  }
}

// Large green or red: `element` (class feedback) gets ok / bad and the message.
export function feedback(element, ok, message) {
  element.classList.remove("ok", "bad");
  // Force a reflow so that the same colour twice in a row still flashes.
  void element.offsetWidth;
  element.classList.add(ok ? "ok" : "bad");
  element.textContent = message;
  beep(ok);
}

// ---- Camera ------------------------------------------------------------------------------

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src; // same origin: allowed by script-src 'self'
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function detector() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      const wanted = ["qr_code", "data_matrix", "code_128"].filter((f) => formats.includes(f));
      if (wanted.length) {
        const native = new window.BarcodeDetector({ formats: wanted });
        const read = async (video) => {
          const codes = await native.detect(video);
          return codes.length ? codes[0].rawValue : null;
        };
        return { kind: "barcode-detector", read };
      }
    } catch {
      // fall through to jsQR
    }
  }
  if (!window.jsQR) await loadScript("/static/vendor/jsqr/jsQR.js");
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const read = async (video) => {
    if (!video.videoWidth) return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    return code ? code.data : null;
  };
  return { kind: "jsqr", read };
}

// Start the camera into `video`; every new code read calls onScan. Returns stop().
export async function startCamera(video, onScan) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  video.srcObject = stream;
  await video.play();
  const { kind, read } = await detector();
  // Which decoder reads the frames ("barcode-detector" or "jsqr"): a hint for people and tests.
  video.dataset.decoder = kind;
  let running = true;
  let last = null;
  let lastAt = 0;
  const tick = async () => {
    if (!running) return;
    try {
      const value = await read(video);
      // The same code stays in view for a while: report it once, not every frame.
      if (value && (value !== last || Date.now() - lastAt > 3000)) {
        last = value;
        lastAt = Date.now();
        onScan(value);
      }
    } catch {
      // A frame that cannot be read: try the next one.
    }
    setTimeout(tick, 200);
  };
  tick();
  return () => {
    running = false;
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  };
}

// The camera toggle of the scan box (_scan_box.html): a button, a box and its video.
export function wireCamera(button, box, video, onScan, onError) {
  let stop = null;
  button.addEventListener("click", async () => {
    try {
      if (stop) {
        stop();
        stop = null;
      } else {
        box.classList.remove("hidden");
        stop = await startCamera(video, onScan);
      }
    } catch (error) {
      onError(error);
    }
    box.classList.toggle("hidden", !stop);
    button.setAttribute("aria-pressed", stop ? "true" : "false");
  });
}
