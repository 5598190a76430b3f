# Turns the web console's files (console/) into a C++ source of byte arrays,
# so the binary serves them with no file on disk. Run at build time by the
# custom command in CMakeLists.txt (again whenever a file changes):
#   cmake -DCONSOLE_DIR=<dir> -DOUTPUT=<file.cpp> -P console_embed.cmake
# Each file becomes pgw::admin::embedded::<name>[] (a NUL is appended, not
# counted, so an empty file still makes a valid array) and <name>_size.
cmake_minimum_required(VERSION 3.25)
foreach(var CONSOLE_DIR OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "console_embed.cmake: -D${var}=... is required")
  endif()
endforeach()

set(code "// Generated from userspace/admin/console/ by console_embed.cmake. Do not edit.\n")
string(APPEND code "#include <cstddef>\n\nnamespace pgw::admin::embedded {\n")
foreach(pair "index.html:index_html" "console.js:console_js" "console.css:console_css")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 file)
  list(GET pair 1 name)
  file(READ "${CONSOLE_DIR}/${file}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND code
    "extern const unsigned char ${name}[];\n"
    "extern const std::size_t ${name}_size;\n"
    "const unsigned char ${name}[] = {${bytes}0x00};\n"
    "const std::size_t ${name}_size = ${size};\n")
endforeach()
string(APPEND code "}  // namespace pgw::admin::embedded\n")

file(WRITE "${OUTPUT}" "${code}")
