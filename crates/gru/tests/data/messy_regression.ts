% regression, no @dimensions and no @seriesLength
@problemName MessyRegression
@univariate true
@targetlabel TRUE
@classLabel false
@data
1,2,3:0.5

4,5:-1.25E+2
6:3
