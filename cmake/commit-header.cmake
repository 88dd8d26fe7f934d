# Writes OUT (a one-line C header defining ATTRIB_GIT_COMMIT) from
# `git describe` of SRC, or from OVERRIDE when that is set. Run at every
# build, not only at configure time, so the commit in a result's provenance
# is the one the binary was built from; the file is rewritten only when the
# text changes, so an unchanged tree recompiles nothing.
if(OVERRIDE)
  set(commit "${OVERRIDE}")
else()
  execute_process(COMMAND git describe --always --dirty --abbrev=12 WORKING_DIRECTORY "${SRC}"
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
string(REPLACE "\\" "\\\\" commit "${commit}")
string(REPLACE "\"" "\\\"" commit "${commit}")
set(text "#define ATTRIB_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
