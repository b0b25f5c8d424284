// Opens the report reader at the page asked for in ?sida=N: scrolls to the page marker "s. N"
// (id="sida-N") when the address has no fragment of its own (a #passage-… or #sida-… wins).
// Loaded only when ?sida is set; without JavaScript the "Gå till s. N" link does the same.
(function () {
  if (location.hash) return;
  var n = new URLSearchParams(location.search).get("sida");
  if (!n || !document.getElementById("sida-" + n)) return;
  location.replace("#sida-" + n);
})();
