// What a sans-I/O codec's next() returns when the bytes received so far hold
// no further event (h11's NEED_DATA). Shared by every protocol in this folder.
export const NEED_DATA: unique symbol = Symbol('NEED_DATA');
