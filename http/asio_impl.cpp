// The one translation unit that compiles Asio, Asio's SSL and Beast
// (BOOST_*_SEPARATE_COMPILATION is set for every user of the http target),
// as Beast's own test/lib_asio.cpp does.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
