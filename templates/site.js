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
