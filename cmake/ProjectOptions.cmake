# Per-target build settings, applied by one function so every target gets the
# same warnings and sanitizer flags (spdlog's cmake/utils.cmake does the same).

function(swarm_prepull_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  # GCC 12 reports every Asio coroutine frame's sized operator delete as
  # mismatched at -O2 (a false positive, GCC PR 109224, fixed in GCC 13).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete)
  endif()
  if(SWARM_PREPULL_STATIC_LIBS)
    target_compile_options(${target} PRIVATE -ffunction-sections -fdata-sections)
    # pack-relative-relocs (DT_RELR, glibc 2.36 and binutils 2.38 on): the
    # position-independent executable's relative relocations in a compact
    # table instead of 24 bytes each (540 kB of .rela.dyn otherwise).
    target_link_options(${target} PRIVATE -Wl,--gc-sections -Wl,-z,pack-relative-relocs)
  endif()
  if(SWARM_PREPULL_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# Header-only consumers of a sanitized library must link the runtime too.
function(swarm_prepull_executable target)
  add_executable(${target} ${ARGN})
  swarm_prepull_target_defaults(${target})
endfunction()
