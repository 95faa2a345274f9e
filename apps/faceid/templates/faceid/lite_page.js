// FaceID Lite's capture page (docs/WEB.md): camera, challenge, capture, seal, upload, return.
// The package is sealed exactly as the SDK seals meglive_data (docs/SDK.md, section 3).
// document.body.dataset.state names each step (tests and screenshots wait on it).
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("lite-config").textContent);
  const TEXT = {
    en: {
      lang: "中文", title: "Face verification",
      noWebrtc: "This browser cannot use a camera here (no WebRTC or no secure connection). Please open the link in an up-to-date browser.",
      cameraRefused: "Camera access was refused. Allow the camera for this page in the browser's settings, then press Retry.",
      noCamera: "No usable camera was found. Connect or free a camera, then press Retry.",
      opening: "Opening the camera…", place: "Place your face inside the oval, in good light.",
      start: "Start", retry: "Retry", starting: "Preparing…",
      neutral: "Look at the camera: eyes open, mouth closed",
      still: "Hold still and look at the camera", flash: "Keep your face in the oval while the screen changes colour",
      blink: "Blink your eyes", mouth_open: "Open your mouth", turn_left: "Turn your head to the left",
      turn_right: "Turn your head to the right", nod: "Nod your head", shake: "Shake your head",
      uploading: "Checking… please wait", done: "Done. Taking you back…",
      timeout: "The capture took too long. Press Retry to try again.",
      again: "That capture could not be used. Press Retry to try again.",
      uploadRefused: "The upload was not accepted. Press Retry to try again.",
      tooMany: "Too many attempts. Please go back and start again.",
      ended: "This verification has ended. Please go back and start again.",
      busy: "The service is busy. Press Retry in a moment.",
      failed: "Something went wrong. Press Retry to try again.",
      attemptsLeft: (n) => `Attempts left: ${n}`,
    },
    zh: {
      lang: "English", title: "人脸验证",
      noWebrtc: "此浏览器无法在此使用摄像头（不支持 WebRTC 或连接不安全）。请用最新的浏览器打开链接。",
      cameraRefused: "摄像头权限被拒绝。请在浏览器设置中允许本页面使用摄像头，然后点击“重试”。",
      noCamera: "未找到可用的摄像头。请连接或释放摄像头，然后点击“重试”。",
      opening: "正在打开摄像头…", place: "请将脸部置于椭圆框内，并保持光线充足。",
      start: "开始", retry: "重试", starting: "准备中…",
      neutral: "请看向摄像头：睁眼，闭嘴",
      still: "请保持不动，看向摄像头", flash: "屏幕变色时请保持脸部在椭圆框内",
      blink: "请眨眨眼", mouth_open: "请张张嘴", turn_left: "请向左转头", turn_right: "请向右转头",
      nod: "请点点头", shake: "请摇摇头",
      uploading: "正在检测，请稍候…", done: "已完成，正在返回…",
      timeout: "采集超时，请点击“重试”。",
      again: "本次采集无法使用，请点击“重试”。",
      uploadRefused: "上传未被接受，请点击“重试”。",
      tooMany: "尝试次数过多，请返回后重新开始。",
      ended: "本次验证已结束，请返回后重新开始。",
      busy: "服务繁忙，请稍后点击“重试”。",
      failed: "出现错误，请点击“重试”。",
      attemptsLeft: (n) => `剩余次数：${n}`,
    },
  };
  // What the screen shows for flash liveness (the challenge's colour names).
  const FLASH_CSS = { red: "#ff0000", green: "#00ff00", blue: "#0000ff", yellow: "#ffff00",
                      magenta: "#ff00ff", cyan: "#00ffff" };
  const NEUTRAL_MS = 700;          // the neutral face before the first action, as the SDK asks
  const ACTION_WINDOW_MS = 2500;   // time given to each action on the page
  const FRAME_MS = 100;            // 10 frames a second for actions ...
  const FLASH_FRAME_MS = 66;       // ... 15 for flash, as the simulator renders them
  const STILL_BURST = 5, STILL_GAP_MS = 120, STILL_SETTLE_MS = 1000;
  const MAX_FRAMES = 150;          // meglive_data's limit
  const MAX_SIDE = 640;

  const $ = (id) => document.getElementById(id);
  const video = $("video"), promptEl = $("prompt"), messageEl = $("message");
  const startButton = $("start"), retryButton = $("retry"), langButton = $("lang");
  let lang = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
  let shown = { prompt: "", message: "", error: false, extra: "" };
  let attemptsLeft = null;
  let retryAction = null;

  function say(key) { const t = TEXT[lang][key]; return typeof t === "string" ? t : key; }
  function render() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    langButton.textContent = TEXT[lang].lang;
    if (!config.web_title_given) document.title = $("title").textContent = say("title");
    promptEl.textContent = shown.prompt ? say(shown.prompt) : "";
    messageEl.textContent = (shown.message ? say(shown.message) : "") +
      (shown.extra ? " " + shown.extra : "");
    messageEl.className = shown.error ? "error" : "";
    startButton.textContent = say("start");
    retryButton.textContent = say("retry");
  }
  function step(state, prompt, message, error) {
    document.body.dataset.state = state;
    shown = { prompt: prompt || "", message: message || "", error: !!error, extra: "" };
    if (error && attemptsLeft !== null && retryAction) shown.extra = TEXT[lang].attemptsLeft(attemptsLeft);
    render();
  }
  function offerRetry(action) {
    retryAction = action;
    retryButton.hidden = !action;
    if (action && attemptsLeft !== null) { shown.extra = TEXT[lang].attemptsLeft(attemptsLeft); render(); }
  }
  langButton.addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; render(); });
  retryButton.addEventListener("click", () => { const a = retryAction; offerRetry(null); if (a) a(); });
  startButton.addEventListener("click", () => { startButton.hidden = true; attempt(); });

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ------------------------------------------------------------------ camera
  async function openCamera() {
    step("opening", "", "opening");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(
        { video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      const refused = ["NotAllowedError", "SecurityError", "PermissionDeniedError"].includes(error.name);
      step(refused ? "camera-refused" : "no-camera", "", refused ? "cameraRefused" : "noCamera", true);
      offerRetry(openCamera);
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    step("ready", "place", "");
    startButton.hidden = false;
  }

  // ------------------------------------------------------------------ capture
  const canvas = document.createElement("canvas");
  function grab(frames, t0) {
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    let t = Math.round((performance.now() - t0) * 10) / 10;   // when the picture was taken
    const jpeg = canvas.toDataURL("image/jpeg", 0.9).split(",")[1];
    if (frames.length && t <= frames[frames.length - 1].t) t = frames[frames.length - 1].t + 0.1;
    if (frames.length < MAX_FRAMES) frames.push({ t: t, jpeg: jpeg });
  }
  async function frameReady(deadline) {
    while (video.readyState < 2 || !video.videoWidth) {
      if (performance.now() > deadline) throw new Error("timeout");
      await sleep(50);
    }
  }
  // Frames are grabbed on a fixed cadence counted from t0: drawing and JPEG-encoding a frame
  // takes 15-100 ms on a slow or busy device, and sleeping a whole period after it would
  // stretch every gap by that much (10 frames a second became 6-8); a grab that overruns its
  // period skips to the next tick instead of bunching frames. A head shake is seen past 15°
  // for ~250 ms a side: gaps of 200 ms start to miss it (docs/LIVENESS.md).
  const untilNextTick = (t0, everyMs) => everyMs - ((performance.now() - t0) % everyMs);
  async function recordFor(frames, t0, untilMs, everyMs, deadline) {
    while (performance.now() - t0 < untilMs) {
      if (performance.now() > deadline) throw new Error("timeout");
      grab(frames, t0);
      await sleep(untilNextTick(t0, everyMs));
    }
  }
  async function capture(challenge) {
    const kind = challenge.liveness_type;
    const limitS = kind === "flash" ? challenge.flash_timeout_s : challenge.liveness_timeout_s;
    const deadline = performance.now() + limitS * 1000;
    await frameReady(deadline);
    const frames = [];
    if (kind === "still") {
      step("capturing", "still");
      await sleep(STILL_SETTLE_MS);
      const t0 = performance.now();
      for (let n = 0; n < STILL_BURST; n++) {
        grab(frames, t0);
        if (n < STILL_BURST - 1) await sleep(untilNextTick(t0, STILL_GAP_MS));
      }
    } else if (kind === "meglive") {
      const actions = challenge.actions;
      const total = NEUTRAL_MS + actions.length * ACTION_WINDOW_MS;
      const every = Math.max(FRAME_MS, total / (MAX_FRAMES - 5));
      const t0 = performance.now();
      step("capturing", "neutral");
      await recordFor(frames, t0, NEUTRAL_MS, every, deadline);
      for (let i = 0; i < actions.length; i++) {
        step("capturing", actions[i]);
        await recordFor(frames, t0, NEUTRAL_MS + (i + 1) * ACTION_WINDOW_MS, every, deadline);
      }
    } else {
      const overlay = $("flash");
      const colours = challenge.colours;            // [[colour, start_ms, end_ms], ...]
      const end = colours[colours.length - 1][2] + 300;
      overlay.appendChild(video);
      overlay.style.display = "block";
      step("capturing", "flash");
      try {
        const t0 = performance.now();
        while (performance.now() - t0 < end) {
          if (performance.now() > deadline) throw new Error("timeout");
          const t = performance.now() - t0;
          const segment = colours.find((c) => c[1] <= t && t < c[2]);
          overlay.style.background = segment ? FLASH_CSS[segment[0]] : "#ffffff";
          grab(frames, t0);
          await sleep(untilNextTick(t0, FLASH_FRAME_MS));
        }
      } finally {
        overlay.style.display = "none";
        $("stage").insertBefore(video, $("guide"));
      }
    }
    return frames;
  }

  // ------------------------------------------------------------------ seal (meglive_data v1)
  function b64url(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function unb64url(text) {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }
  async function seal(started, frames) {
    // No device report: a browser cannot vouch for its device (docs/WEB.md).
    const payload = { version: 1, biz_token: started.biz_token,
                      challenge_id: started.challenge.challenge_id, frames: frames };
    const encoder = new TextEncoder();
    const signed = "MGLV1." + b64url(encoder.encode(JSON.stringify(payload)));
    const key = await crypto.subtle.importKey("raw", unb64url(started.package_key),
                                              { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(signed)));
    return signed + "." + b64url(mac);
  }

  // ------------------------------------------------------------------ server
  async function post(url, fields, files) {
    const form = new FormData();
    form.append("page_key", config.page_key);
    for (const [name, value] of Object.entries(fields || {})) form.append(name, value);
    for (const [name, blob] of Object.entries(files || {})) form.append(name, blob, name);
    let response;
    try {
      response = await fetch(url, { method: "POST", body: form, credentials: "omit",
                                    cache: "no-store", referrerPolicy: "no-referrer" });
    } catch (error) {
      return { status: 0, body: {} };
    }
    let body = {};
    try { body = await response.json(); } catch (error) { body = {}; }
    return { status: response.status, body: body };
  }
  function refused(answer) {
    const error = answer.body.error || "";
    if (error.includes("MORE_RETRY_TIMES")) { step("too-many", "", "tooMany", true); return; }
    if (error === "BIZ_TOKEN_DENIED") { step("ended", "", "ended", true); return; }
    if (error === "CONCURRENCY_LIMIT_EXCEEDED" || answer.status === 0 || answer.status >= 500) {
      step("error", "", "busy", true);
    } else if (error.startsWith("MEGLIVE_DATA")) {
      step("upload-refused", "", "uploadRefused", true);
    } else {
      step("error", "", "failed", true);
    }
    offerRetry(attempt);
  }
  function goBack(way) {
    if (way.method === "POST") {
      const form = document.createElement("form");
      form.method = "POST";
      form.action = way.url;
      for (const [name, value] of Object.entries(way.fields)) {
        const input = document.createElement("input");
        input.type = "hidden"; input.name = name; input.value = value;
        form.appendChild(input);
      }
      document.body.appendChild(form);
      form.submit();
    } else {
      window.location.replace(way.url);
    }
  }

  // A failed capture may be tried again while the session has attempts left (each is a start).
  function retryOrStop(state) {
    if (attemptsLeft > 0) { step(state, "", state, true); offerRetry(attempt); }
    else step("too-many", "", "tooMany", true);
  }

  async function attempt() {
    step("starting", "", "starting");
    const started = await post(config.start_url);
    if (started.status !== 200) { refused(started); return; }
    attemptsLeft = started.body.attempts_left;
    let frames;
    try {
      frames = await capture(started.body.challenge);
    } catch (error) {
      retryOrStop("timeout");
      return;
    }
    step("uploading", "", "uploading");
    const sealed = await seal(started.body, frames);
    const verified = await post(config.verify_url, {},
                                { meglive_data: new Blob([sealed], { type: "text/plain" }) });
    if (verified.status !== 200) { refused(verified); return; }
    if (!verified.body.done) {
      retryOrStop("again");
      return;
    }
    if (video.srcObject) video.srcObject.getTracks().forEach((track) => track.stop());
    step("done", "", "done");
    // A moment for the user to read "done" before the page changes.
    setTimeout(() => goBack(verified.body.return), 1200);
  }

  config.web_title_given = $("title").dataset.given === "1";
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
      !window.crypto || !crypto.subtle) {
    step("no-webrtc", "", "noWebrtc", true);
    return;
  }
  openCamera();
})();
