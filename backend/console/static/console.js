/* 随手拍工作台: the little script the pages need, loaded from the app itself (no inline script: the CSP forbids it).
   - a full-size photo viewer for links marked data-viewer (arrow keys, Esc)
   - a preview of the photos chosen in a file input marked data-preview="#target"
   - confirmation of forms marked data-confirm */
(function () {
  "use strict";

  function viewer() {
    var links = Array.prototype.slice.call(document.querySelectorAll("a[data-viewer]"));
    if (!links.length) return;
    var box = document.createElement("div");
    box.className = "viewer";
    box.hidden = true;
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "查看大图");
    var img = document.createElement("img");
    img.alt = "照片大图";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "关闭";
    var prev = document.createElement("button");
    prev.type = "button";
    prev.className = "prev";
    prev.textContent = "‹";
    var next = document.createElement("button");
    next.type = "button";
    next.className = "next";
    next.textContent = "›";
    box.appendChild(img);
    box.appendChild(prev);
    box.appendChild(next);
    box.appendChild(close);
    document.body.appendChild(box);
    var index = 0;

    function show(i) {
      index = (i + links.length) % links.length;
      img.src = links[index].href;
      box.hidden = false;
    }
    function hide() { box.hidden = true; img.removeAttribute("src"); }
    links.forEach(function (link, i) {
      link.addEventListener("click", function (event) { event.preventDefault(); show(i); });
    });
    close.addEventListener("click", hide);
    prev.addEventListener("click", function () { show(index - 1); });
    next.addEventListener("click", function () { show(index + 1); });
    box.addEventListener("click", function (event) { if (event.target === box) hide(); });
    document.addEventListener("keydown", function (event) {
      if (box.hidden) return;
      if (event.key === "Escape") hide();
      if (event.key === "ArrowLeft") show(index - 1);
      if (event.key === "ArrowRight") show(index + 1);
    });
  }

  function uploadPreview() {
    document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
      var target = document.querySelector(input.getAttribute("data-preview"));
      if (!target) return;
      input.addEventListener("change", function () {
        target.textContent = "";
        Array.prototype.forEach.call(input.files, function (file) {
          if (!/^image\//.test(file.type)) return;
          var img = document.createElement("img");
          img.alt = file.name;
          img.src = URL.createObjectURL(file);
          img.addEventListener("load", function () { URL.revokeObjectURL(img.src); });
          target.appendChild(img);
        });
      });
    });
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  viewer();
  uploadPreview();
  confirmations();
})();
