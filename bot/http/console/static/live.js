// Live incident page: when the server says the incident changed, fetch the page again and swap
// the incident in place (scroll position and open details kept).
(function () {
  "use strict";
  function follow() {
    var article = document.getElementById("incident");
    if (!article || !article.dataset.live) { return; }
    var source = new EventSource(article.dataset.live);
    source.addEventListener("change", function () {
      source.close();
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("incident");
          if (!fresh) { return; }
          var open = Array.prototype.map.call(article.querySelectorAll("details[open]"), function (d) { return d.id; });
          article.replaceWith(fresh);
          open.forEach(function (id) { var d = id && document.getElementById(id); if (d) { d.open = true; } });
          follow();
        })
        .catch(function () { window.setTimeout(follow, 5000); });
    });
  }
  document.addEventListener("DOMContentLoaded", follow);
})();
