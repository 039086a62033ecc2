// pushdetect console: new detections appear in the event table without a reload.
// Served from /static (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  var table = document.getElementById("events");
  if (!table || table.dataset.live !== "true" || !window.EventSource) {
    return;
  }
  var body = table.tBodies[0];
  var params = new URLSearchParams(window.location.search);
  params.delete("cursor");
  params.set("after_id", table.dataset.afterId || "0");
  var source = new EventSource("/events/live?" + params.toString());
  source.addEventListener("detection", function (message) {
    if (body.querySelector('tr[data-event-id="' + message.lastEventId + '"]')) {
      return;
    }
    var holder = document.createElement("tbody");
    holder.innerHTML = message.data; // a row rendered and escaped by the server
    var row = holder.firstElementChild;
    if (!row) {
      return;
    }
    row.classList.add("fresh");
    body.insertBefore(row, body.firstChild);
    var empty = document.getElementById("empty");
    if (empty) {
      empty.remove();
    }
  });
})();
