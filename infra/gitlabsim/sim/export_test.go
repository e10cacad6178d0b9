package sim

// Paginate exposes paginate to the external tests, which check lists too
// long to build through the API.
var Paginate = paginate
