import { ChangeKind } from '@tessera/proto';

/** Human name of a change kind (`create`, `update`, `new_version`, …). */
export function changeKindName(kind: ChangeKind): string {
  return ChangeKind[kind]?.replace('CHANGE_KIND_', '').toLowerCase() ?? 'unknown';
}
