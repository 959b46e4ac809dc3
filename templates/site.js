// Optional filtering of tables marked data-filterable. Pages read fully without it: rows are
// only ever hidden, never created, and no repository text is parsed as HTML.
(function () {
  "use strict";
  var boxes = document.querySelectorAll(".tm-filter[data-for]");
  Array.prototype.forEach.call(boxes, function (box) {
    var table = document.getElementById(box.getAttribute("data-for"));
    if (!table) { return; }
    var input = box.querySelector("input");
    var select = box.querySelector("select");
    var rows = table.querySelectorAll("tbody tr");
    function apply() {
      var q = input ? input.value.trim().toLowerCase() : "";
      var s = select ? select.value : "";
      Array.prototype.forEach.call(rows, function (row) {
        var text = row.textContent.toLowerCase();
        var ok = (q === "" || text.indexOf(q) !== -1) &&
          (s === "" || row.getAttribute("data-status") === s);
        row.classList.toggle("tm-hidden", !ok);
      });
    }
    if (input) { input.addEventListener("input", apply); }
    if (select) { select.addEventListener("change", apply); }
    box.hidden = false;
  });
})();
// Offline search (search.html): the index is a JSON data block in the page, so it works from
// file:// where fetch() is refused. Results are built with textContent only: the index is data.
(function () {
  "use strict";
  var data = document.getElementById("tm-search-index");
  var form = document.querySelector(".tm-search[role=search]");
  if (!data || !form) { return; }
  var index;
  try { index = JSON.parse(data.textContent); } catch (e) { return; }
  if (!Array.isArray(index)) { return; }
  var input = form.querySelector("input");
  var list = document.querySelector(".tm-search-results");
  var status = document.querySelector(".tm-search-status");
  var off = document.querySelector(".tm-search-off");
  var LIMIT = 200;
  function text(s) { return typeof s === "string" ? s : ""; }
  function search() {
    var q = input.value.trim().toLowerCase();
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (q === "") { status.textContent = ""; return; }
    var words = q.split(/\s+/);
    var shown = 0, found = 0;
    index.forEach(function (e) {
      var hay = (text(e.n) + " " + text(e.i) + " " + text(e.k) + " " + text(e.t)).toLowerCase();
      for (var w = 0; w < words.length; w++) {
        if (hay.indexOf(words[w]) === -1) { return; }
      }
      found++;
      if (shown >= LIMIT) { return; }
      shown++;
      var li = document.createElement("li");
      var tag = document.createElement("span");
      tag.className = "tm-tag";
      tag.textContent = text(e.k);
      var a = document.createElement("a");
      // Links are relative paths written by threatmark; anything else is not followed.
      var href = text(e.h);
      if (/^[a-z]+(\/[a-z0-9_-]+)?\.html(#[A-Za-z0-9_-]+)?$/.test(href)) { a.setAttribute("href", href); }
      a.textContent = text(e.n);
      li.appendChild(tag);
      li.appendChild(a);
      if (e.i && e.i !== e.n) {
        var id = document.createElement("code");
        id.textContent = " " + text(e.i);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(id);
      }
      list.appendChild(li);
    });
    status.textContent = found === 0 ? "No match." :
      found + (found === 1 ? " match" : " matches") + (found > shown ? ", first " + shown + " shown." : ".");
  }
  form.hidden = false;
  if (off) { off.hidden = true; }
  input.addEventListener("input", search);
  var m = /[?&]q=([^&#]*)/.exec(location.search);
  if (m) {
    try { input.value = decodeURIComponent(m[1].replace(/\+/g, " ")); } catch (e) { input.value = ""; }
    search();
  }
})();
