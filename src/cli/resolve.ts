import { CliError, EXIT } from './exit';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An id, or a name that exactly one resource of the kind has. Ids are taken
 * as they are (the server says NOT_FOUND); a name is looked up in the list,
 * and one that names none or several is an error saying which.
 */
export const resolveRef = async <T>(
  singular: string,
  ref: string,
  list: () => Promise<readonly T[]>,
  names: (o: T) => readonly string[],
  id: (o: T) => string,
): Promise<string> => {
  if (UUID.test(ref)) return ref;
  const all = await list();
  const byId = all.find((o) => id(o) === ref);
  if (byId) return ref;
  const hits = all.filter((o) => names(o).includes(ref));
  if (hits.length === 1) return id(hits[0]);
  if (hits.length === 0) throw new CliError(`NOT_FOUND: no ${singular} has the id or name "${ref}"`, EXIT.NOT_FOUND);
  throw new CliError(
    `INVALID_ARGUMENT: ${hits.length} ${singular}s are named "${ref}" (${hits.map(id).join(', ')}): give the id`,
    EXIT.INVALID_ARGUMENT,
  );
};

