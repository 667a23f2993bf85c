// The mirror's search (export/site_search.py): the query's words, each Chinese character a word,
// looked up in search/t/ (one script per word) and kept where they follow each other.
(function () {
  "use strict";
  var terms = {}, docs = {}, waiting = {};
  window.discuzSearch = {
    term: function (term, postings) { terms[term] = postings; },
    docs: function (shard, rows) { docs[shard] = rows; }
  };
  function hex(text) {
    return Array.from(new TextEncoder().encode(text), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function load(path) {
    if (!waiting[path]) {
      waiting[path] = new Promise(function (resolve) {
        var script = document.createElement("script");
        script.src = path;
        script.onload = script.onerror = function () { resolve(); };
        document.head.appendChild(script);
      });
    }
    return waiting[path];
  }
  // as the archive's index reads text: letters and digits make words, lower-cased; every
  // letter from U+3000 up (Chinese, kana, Hangul) is a word of its own
  function words(text) {
    var found = [], word = "";
    for (var char of text.normalize("NFKC").toLowerCase()) {
      var letter = /[\p{L}\p{N}]/u.test(char);
      if (letter && char.codePointAt(0) < 0x3000) { word += char; continue; }
      if (word) { found.push(word); word = ""; }
      if (letter) found.push(char);
    }
    if (word) found.push(word);
    return found;
  }
  // {letter: {rowid: [column, positions]}} of the posts holding the phrase
  function phrase(list) {
    var result = null;
    list.forEach(function (word, index) {
      var next = {}, postings = terms[word] || {};
      Object.keys(postings).forEach(function (letter) {
        postings[letter].forEach(function (entry) {
          var key = letter + ":" + entry[0] + ":" + entry[1], places = entry.slice(2);
          if (index === 0) { next[key] = places; return; }
          var before = result[key];
          if (!before) return;
          var kept = places.filter(function (p) { return before.indexOf(p - 1) >= 0; });
          if (kept.length) next[key] = kept;
        });
      });
      result = next;
    });
    var posts = {};
    Object.keys(result || {}).forEach(function (key) {
      var parts = key.split(":");
      posts[parts[0] + ":" + parts[1]] = true;
    });
    return posts;
  }
  function search(query) {
    var phrases = query.split(/\s+/).map(words).filter(function (list) { return list.length; });
    var all = [];
    phrases.forEach(function (list) { list.forEach(function (w) { all.push(w); }); });
    return Promise.all(all.map(function (w) {
      var raw = new TextEncoder().encode(w);
      return raw.length <= 24 ? load("search/t/" + hex(w) + ".js") : Promise.resolve();
    })).then(function () {
      var found = null;
      phrases.forEach(function (list) {
        var posts = phrase(list);
        found = found === null ? posts : Object.keys(found).reduce(function (kept, key) {
          if (posts[key]) kept[key] = true;
          return kept;
        }, {});
      });
      return Object.keys(found || {});
    });
  }
  function show(query, keys, list, status) {
    keys.sort(function (a, b) { return a < b ? -1 : 1; });
    var shown = keys.slice(0, 200);
    var shards = shown.map(function (key) {
      var parts = key.split(":");
      return parts[0] + Math.floor(Number(parts[1]) / 1000);
    });
    return Promise.all(Array.from(new Set(shards), function (shard) { return load("search/d/" + shard + ".js"); }))
      .then(function () {
        list.textContent = "";
        shown.forEach(function (key, index) {
          var row = (docs[shards[index]] || {})[key.split(":")[1]];
          if (!row) return;
          var item = document.createElement("li"), link = document.createElement("a"), text = document.createElement("p");
          link.href = row[0];
          link.textContent = row[1] || row[0];
          text.textContent = row[2];
          item.className = "result";
          item.appendChild(link);
          item.appendChild(text);
          list.appendChild(item);
        });
        status.textContent = "“" + query + "”：" + keys.length + " 个结果" + (keys.length > shown.length ? "（显示前 " + shown.length + " 个）" : "");
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("search-form"), input = document.getElementById("search-q");
    var list = document.getElementById("results"), status = document.getElementById("search-status");
    function run(query) {
      status.textContent = "搜索中…";
      search(query).then(function (keys) { return show(query, keys, list, status); });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
      run(input.value);
    });
    var query = new URLSearchParams(location.search).get("q");
    if (query) { input.value = query; run(query); }
  });
})();
