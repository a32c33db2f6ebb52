# nginx_build_tables(OUT): writes OUT, a C++ fragment holding every daemon/nginx/builds/*.yaml
# as {file name, text} in kBuildTables, so that the daemon carries the offsets table it was
# built with (daemon/nginx/nginx_builds.h). A new or changed file re-runs cmake.
# The tables are found from this file's place, so that the fuzz project (test/fuzz) can use it.
set(NGINX_BUILDS_DIR "${CMAKE_CURRENT_LIST_DIR}/../daemon/nginx/builds")
function(nginx_build_tables out)
  file(GLOB tables CONFIGURE_DEPENDS "${NGINX_BUILDS_DIR}/*.yaml")
  list(SORT tables)
  set(text "constexpr std::pair<std::string_view, std::string_view> kBuildTables[] = {\n")
  foreach(table IN LISTS tables)
    get_filename_component(name "${table}" NAME)
    file(READ "${table}" yaml)
    string(APPEND text "    {\"${name}\", R\"NGINXBUILD(${yaml})NGINXBUILD\"},\n")
  endforeach()
  string(APPEND text "};\n")
  file(CONFIGURE OUTPUT "${out}" CONTENT "${text}" @ONLY)
endfunction()
