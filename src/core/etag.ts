/**
 * An ETag as a bare value: no surrounding quotes, no weak `W/` prefix, no white space. Servers
 * differ in what they send and accept (RGW wants If-Match unquoted), so every comparison and
 * every conditional header uses this one form.
 */
export function bareEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
