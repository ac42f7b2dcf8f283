/** Where fields sit in the struct layouts of ../netbsd (generated from the ABI facts). */
import type { StructLayout } from "../netbsd/index.ts"

/** A field's offset in a struct layout; a name the layout lacks is a programming error. */
export const fieldOffset = (layout: StructLayout, name: string): number => {
  const field = layout.fields.find((f) => f.name === name)
  if (field === undefined) throw new Error(`no field ${name} in this struct layout`)
  return field.offset
}
