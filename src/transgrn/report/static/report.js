document.addEventListener('click', function (event) {
  var th = event.target.closest('table.sortable th');
  if (!th) return;
  var table = th.closest('table'), body = table.tBodies[0], index = Array.prototype.indexOf.call(th.parentNode.children, th);
  var ascending = th.dataset.dir !== 'asc';
  table.querySelectorAll('th').forEach(function (h) { delete h.dataset.dir; });
  th.dataset.dir = ascending ? 'asc' : 'desc';
  var key = function (row) { var c = row.children[index]; return c.dataset.v !== undefined ? parseFloat(c.dataset.v) : c.textContent; };
  var rows = Array.prototype.slice.call(body.rows).sort(function (a, b) {
    var x = key(a), y = key(b);
    if (typeof x === 'number') { if (isNaN(x)) return 1; if (isNaN(y)) return -1; return ascending ? x - y : y - x; }
    return ascending ? String(x).localeCompare(y) : String(y).localeCompare(x);
  });
  rows.forEach(function (row) { body.appendChild(row); });
});
(function () {
  var select = document.getElementById('transition-select'), view = document.getElementById('transition-view');
  if (!select) return;
  function show(id) {
    var template = document.getElementById('tpl-' + id);
    if (!template) return;
    view.replaceChildren(template.content.cloneNode(true));
    select.value = id;
  }
  function fromHash() {
    var match = location.hash.match(/^#t=(.+)$/);
    if (match) { show(decodeURIComponent(match[1])); document.getElementById('transitions').scrollIntoView(); }
  }
  function step(delta) {
    var i = Math.min(select.options.length - 1, Math.max(0, select.selectedIndex + delta));
    location.hash = 't=' + select.options[i].value;
  }
  select.addEventListener('change', function () { location.hash = 't=' + select.value; });
  document.getElementById('transition-prev').addEventListener('click', function () { step(-1); });
  document.getElementById('transition-next').addEventListener('click', function () { step(1); });
  window.addEventListener('hashchange', fromHash);
  show(select.value);
  fromHash();
})();
