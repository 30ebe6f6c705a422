// The web page's behaviour: upload with progress, poll the task, play and download the result.
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
  if ($("segments").value.trim()) form.append("segments", $("segments").value.trim());
  $("source").src = URL.createObjectURL(video);
  $("result").removeAttribute("src");
  $("download").hidden = true;
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

$("job").addEventListener("submit", submit);
$("record").addEventListener("click", record);
// A key left by an older version of this page is moved out of the browser's lasting storage.
localStorage.removeItem(API_KEY_ITEM);
$("apikey").value = KEY_STORE.getItem(API_KEY_ITEM) || "";
listRecent();
