// The web page's behaviour: upload with progress, poll the task, play and download the result;
// choose the face and mark segments on the source's preview; show the models and the quality report.
// Plain browser JavaScript, no build step and nothing from a CDN.
"use strict";

const $ = (id) => document.getElementById(id);
const RECENT_KEY = "modellab.recent";
// The API key is kept for this tab only (sessionStorage): gone when the tab closes, never shared
// with other tabs, and never left on disk for whoever uses the browser next.
const KEY_STORE = sessionStorage;
const API_KEY_ITEM = "modellab.apikey";
const POLL_MS = 1000;
let recordedAudio = null;
let facePoint = null; // [x, y] in the source video's own pixels
let segments = []; // [{start, end}] marked on the source's timeline
let pendingStart = null;

function apiHeaders() {
  const key = $("apikey").value || KEY_STORE.getItem(API_KEY_ITEM) || "";
  return key ? { "X-API-Key": key } : {};
}

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function detailOf(body) {
  // Our errors are {"detail": "..."}; FastAPI's 422 keeps a list of {loc, msg}.
  if (!body || body.detail === undefined) return "unexpected answer from the server";
  if (typeof body.detail === "string") return body.detail;
  return body.detail.map((item) => `${item.loc.slice(1).join(".")}: ${item.msg}`).join("; ");
}

function upload(form) {
  // XMLHttpRequest rather than fetch: it reports upload progress.
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/process/");
    for (const [name, value] of Object.entries(apiHeaders())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) $("upload").value = event.loaded / event.total;
    };
    request.onload = () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch (error) { /* not JSON */ }
      if (request.status === 202) resolve(body.task_id);
      else reject(new Error(`${request.status}: ${detailOf(body)}`));
    };
    request.onerror = () => reject(new Error("the upload failed: is the server reachable?"));
    request.send(form);
  });
}

async function poll(taskId) {
  for (;;) {
    const answer = await fetch(`/status/${taskId}`, { headers: apiHeaders() });
    const status = await answer.json();
    if (!answer.ok) throw new Error(`${answer.status}: ${detailOf(status)}`);
    $("stage").textContent = `${status.status}, ${status.stage}` +
      (status.queue_position ? ` (position ${status.queue_position} in the queue)` : "");
    $("progress").value = status.progress;
    showSegments(status.segments);
    if (!["queued", "processing"].includes(status.status)) return status;
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

async function showResult(taskId) {
  // Fetched with the API key, then played from memory (a <video src> cannot send headers).
  const answer = await fetch(`/result/${taskId}`, { headers: apiHeaders() });
  if (answer.status !== 200 || answer.headers.get("content-type") !== "video/mp4") {
    throw new Error("the result is not available");
  }
  const url = URL.createObjectURL(await answer.blob());
  $("result").src = url;
  $("download").href = url;
  $("download").download = `${taskId}_lipsynced.mp4`;
  $("download").hidden = false;
  $("result").play().catch(() => { /* autoplay may be refused: the controls remain */ });
}

function remember(taskId, videoName) {
  const recent = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
  recent.unshift({ taskId, videoName, at: new Date().toISOString() });
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent.slice(0, 20)));
  listRecent();
}

function listRecent() {
  const list = $("recent");
  list.replaceChildren();
  for (const entry of JSON.parse(localStorage.getItem(RECENT_KEY) || "[]")) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = "#";
    link.textContent = `${entry.at.slice(0, 19).replace("T", " ")} ${entry.videoName} (${entry.taskId})`;
    link.onclick = (event) => { event.preventDefault(); follow(entry.taskId); };
    item.append(link);
    list.append(item);
  }
}

async function follow(taskId) {
  $("task").hidden = false;
  $("task-id").textContent = taskId;
  try {
    const status = await poll(taskId);
    if (status.status === "finished") {
      say("Done.");
      showQuality(status.quality);
      await showResult(taskId);
    } else {
      say(`The task ${status.status}: ${status.error || ""}`, true);
    }
  } catch (error) {
    say(error.message, true);
  }
}

async function record() {
  const button = $("record");
  if (button.recorder) {
    button.recorder.stop();
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const recorder = new MediaRecorder(stream);
    const chunks = [];
    recorder.ondataavailable = (event) => chunks.push(event.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      recordedAudio = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      $("recording").textContent = `recorded ${(recordedAudio.size / 1024).toFixed(0)} KiB`;
      button.textContent = "Record again";
      button.recorder = null;
    };
    recorder.start();
    button.recorder = recorder;
    button.textContent = "Stop recording";
    $("recording").textContent = "recording...";
  } catch (error) {
    say(`The microphone is not available: ${error.message}`, true);
  }
}

async function submit(event) {
  event.preventDefault();
  const video = $("video").files[0];
  const audio = $("audio").files[0] || recordedAudio;
  if ($("apikey").value) KEY_STORE.setItem(API_KEY_ITEM, $("apikey").value);
  if (!video || !audio) {
    say("Choose a video and a speech file (or record one).", true);
    return;
  }
  const form = new FormData();
  form.append("video_file", video);
  form.append("audio_file", audio, audio.name || "recording.webm");
  form.append("model_choice", $("model").value);
  form.append("sync_mode", $("sync").value);
  form.append("silence", $("silence").value);
  form.append("speaker", $("speaker").value);
  form.append("output_height", $("output-height").value);
  form.append("video_quality", $("video-quality").value);
  if ($("segments").value.trim()) form.append("segments", $("segments").value.trim());
  if (facePoint) form.append("face_point", facePoint.join(","));
  if (!$("source").src) previewSource();
  $("result").removeAttribute("src");
  $("download").hidden = true;
  $("quality").hidden = true;
  $("task-segments").hidden = true;
  $("upload").hidden = false;
  $("upload").value = 0;
  say("Uploading...");
  try {
    const taskId = await upload(form);
    remember(taskId, video.name);
    say("Uploaded; processing.");
    await follow(taskId);
  } catch (error) {
    say(error.message, true);
  } finally {
    $("upload").hidden = true;
  }
}


// --- The source's preview: choose the face, mark segments -------------------------------------

function previewSource() {
  const video = $("video").files[0];
  if ($("source").src) URL.revokeObjectURL($("source").src);
  if (video) $("source").src = URL.createObjectURL(video);
  else $("source").removeAttribute("src");
  setFacePoint(null); // pixels of another video mean nothing here
}

function pictureBox(video) {
  // Where the picture lies inside the element (object-fit: contain may letterbox it).
  const rect = video.getBoundingClientRect();
  const scale = Math.min(rect.width / video.videoWidth, rect.height / video.videoHeight);
  const width = video.videoWidth * scale;
  const height = video.videoHeight * scale;
  return { rect, scale, left: (rect.width - width) / 2, top: (rect.height - height) / 2, width, height };
}

const CONTROLS_PX = 48; // the native controls' bar at the bottom: clicks there are theirs

function pickFace(event) {
  const video = $("source");
  if (!video.videoWidth) return;
  const box = pictureBox(video);
  const inX = event.clientX - box.rect.left;
  const inY = event.clientY - box.rect.top;
  if (inY > box.rect.height - CONTROLS_PX) return;
  const x = (inX - box.left) / box.scale;
  const y = (inY - box.top) / box.scale;
  if (x < 0 || y < 0 || x >= video.videoWidth || y >= video.videoHeight) return;
  event.preventDefault(); // a click that picks a face does not also play or pause
  setFacePoint([Math.round(Math.min(x, video.videoWidth - 1)), Math.round(Math.min(y, video.videoHeight - 1))]);
}

function placeMarker() {
  const video = $("source");
  const marker = $("face-marker");
  if (!facePoint || !video.videoWidth) {
    marker.hidden = true;
    return;
  }
  const box = pictureBox(video);
  // CSSOM properties, not a style attribute: allowed by the page's style-src policy.
  marker.style.left = `${box.left + facePoint[0] * box.scale}px`;
  marker.style.top = `${box.top + facePoint[1] * box.scale}px`;
  marker.hidden = false;
}

function setFacePoint(point) {
  facePoint = point;
  $("face-point-text").textContent = point
    ? `Face at ${point[0]},${point[1]} (video pixels): the face nearest it is lip-synced.`
    : "Or click on a face in the source preview below.";
  $("face-clear").hidden = !point;
  placeMarker();
}

const seconds = (value) => Math.round(value * 1000) / 1000;

function writeSegments() {
  $("segments").value = segments.length ? JSON.stringify(segments) : "";
  listSegments();
}

function listSegments() {
  const list = $("segment-list");
  list.replaceChildren();
  segments.forEach((segment, index) => {
    const item = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = `${segment.start.toFixed(2)} – ${segment.end.toFixed(2)} s` +
      (segment.audio_start !== undefined ? ` (audio from ${segment.audio_start} s)` : "");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.textContent = "Remove";
    remove.title = `Remove the segment ${index + 1}`;
    remove.onclick = () => { segments.splice(index, 1); writeSegments(); };
    item.append(text, " ", remove);
    list.append(item);
  });
  $("mark-pending").textContent = pendingStart === null ? "" : `start at ${pendingStart.toFixed(2)} s; now mark its end`;
}

function readSegments() {
  // Typed by hand: the list follows the text while it is a valid JSON list.
  const text = $("segments").value.trim();
  if (!text) {
    segments = [];
  } else {
    try {
      const parsed = JSON.parse(text);
      if (!Array.isArray(parsed) || !parsed.every((s) => typeof s.start === "number" && typeof s.end === "number")) return;
      segments = parsed;
    } catch (error) {
      return; // the server names what is wrong when it is sent
    }
  }
  listSegments();
}

function markStart() {
  if (!$("source").src) {
    say("Choose a video first: its preview is where segments are marked.", true);
    return;
  }
  pendingStart = seconds($("source").currentTime);
  listSegments();
}

function markEnd() {
  const end = seconds($("source").currentTime);
  if (pendingStart === null) {
    say("Mark a start first.", true);
    return;
  }
  if (end <= pendingStart) {
    say("A segment's end must come after its start: move the preview on, then mark the end.", true);
    return;
  }
  segments.push({ start: pendingStart, end });
  segments.sort((a, b) => a.start - b.start);
  pendingStart = null;
  say("");
  writeSegments();
}

// --- The task's answer: segments, quality, models ----------------------------------------------

function showSegments(resolved) {
  const line = $("task-segments");
  line.hidden = !resolved;
  if (resolved) {
    line.textContent = "Segments: " + resolved
      .map((s) => `${s.start}–${s.end} s (audio from ${s.audio_start} s)`).join(", ");
  }
}

function showQuality(quality) {
  if (!quality) return;
  const number = (value, digits) => (typeof value === "number" ? value.toFixed(digits) : "–");
  $("q-score").textContent = number(quality.sync_score, 2);
  $("q-offset").textContent = `${number(quality.offset_ms, 0)} ms`;
  $("q-face").textContent = typeof quality.face_frames === "number"
    ? `${Math.round(quality.face_frames * 100)} % of frames` : "–";
  $("q-speech").textContent = `${number(quality.speech_s, 1)} s`;
  const warnings = $("q-warnings");
  warnings.replaceChildren();
  for (const warning of quality.warnings || []) {
    const item = document.createElement("li");
    item.textContent = warning;
    warnings.append(item);
  }
  $("quality").hidden = false;
}

async function loadModels() {
  try {
    const answer = await fetch("/models", { headers: apiHeaders() });
    if (!answer.ok) return; // e.g. a key is needed: every model stays offered
    const models = await answer.json();
    for (const option of $("model").options) {
      const model = models.find((m) => m.model_choice === option.value);
      if (!model || model.available) continue;
      option.disabled = true;
      option.title = model.reason || "not available on this server";
      // The server's operator installs the weights; the page says with which command.
      option.dataset.install = model.install_command || "";
      const install = model.install_command ? ` — install with: ${model.install_command}` : "";
      option.textContent = `${option.textContent} — not available: ${option.title}${install}`;
    }
    const select = $("model");
    if (select.selectedOptions[0] && select.selectedOptions[0].disabled) {
      const first = [...select.options].find((option) => !option.disabled);
      if (first) select.value = first.value;
    }
    noteModel();
  } catch (error) {
    /* the server answers the choice when the task is sent */
  }
}

function noteModel() {
  const option = $("model").selectedOptions[0];
  $("model-note").hidden = !(option && option.disabled);
  const install = option && option.dataset.install ? ` Install it on the server with: ${option.dataset.install}` : "";
  $("model-note").textContent = option && option.disabled ? `${option.title}${install}` : "";
}

// --- Source and result in step -----------------------------------------------------------------

function follower(event) {
  if (!$("in-step").checked) return;
  const source = $("source");
  const result = $("result");
  if (!source.src || !source.duration) return;
  const time = result.currentTime % source.duration;
  if (Math.abs(source.currentTime - time) > 0.05) source.currentTime = time;
  if (event.type === "play" || event.type === "playing") source.play().catch(() => {});
  if (event.type === "pause" || event.type === "ended") source.pause();
}

$("job").addEventListener("submit", submit);
$("video").addEventListener("change", previewSource);
$("source").addEventListener("click", pickFace);
$("source").addEventListener("loadedmetadata", placeMarker);
window.addEventListener("resize", placeMarker);
$("face-clear").addEventListener("click", () => setFacePoint(null));
$("mark-start").addEventListener("click", markStart);
$("mark-end").addEventListener("click", markEnd);
$("segments").addEventListener("input", readSegments);
$("model").addEventListener("change", noteModel);
for (const type of ["play", "pause", "seeked", "ended"]) $("result").addEventListener(type, follower);
$("record").addEventListener("click", record);
// A key left by an older version of this page is moved out of the browser's lasting storage.
localStorage.removeItem(API_KEY_ITEM);
$("apikey").value = KEY_STORE.getItem(API_KEY_ITEM) || "";
listRecent();
loadModels();
