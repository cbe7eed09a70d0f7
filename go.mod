module github.com/synodvm/synod

go 1.26.8
