// The dashboard's live conversation: appends new messages without a reload, long-polling the
// section's data-messages URL (/conversations/{id}/messages: the server answers at once when there
// are new ones, else after a reply or 20 s). Text is set with textContent, never as HTML.
(function () {
  "use strict";
  var section = document.getElementById("conversation");
  if (!section) return;
  var url = section.getAttribute("data-messages");
  var after = Number(section.getAttribute("data-after-seq") || "0");
  var labels = JSON.parse(section.getAttribute("data-labels"));

  function render(m) {
    var div = document.createElement("div");
    div.className = "msg " + m.role;
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = (labels[m.role] || labels.assistant) + " · " +
      m.created_at.slice(0, 16).replace("T", " ");
    var text = document.createElement("div");
    if (m.kind === "voice") {
      text.className = "transcript";
      text.textContent = labels.transcript + ": " + (m.transcript || "…");
    } else {
      text.className = "text";
      text.textContent = m.content;
    }
    div.appendChild(meta);
    div.appendChild(text);
    return div;
  }

  function poll() {
    fetch(url + "?after_seq=" + after, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) {
        body.messages.forEach(function (m) { section.appendChild(render(m)); });
        after = body.last_seq;
        section.setAttribute("data-after-seq", String(after));
        setTimeout(poll, 0);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
